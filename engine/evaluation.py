"""Evaluating a trained run through its export, exactly as it is served: test metrics and what its task reports
(samples, pictures). evaluate.py is its command line; a notebook calls `evaluate_export` directly."""

import dataclasses
import os

import numpy as np

import tasks
from common import exports
from engine import config
from engine.config import RunConfig
from tasks.base import DataConfig


def load_export(path, data=DataConfig()):
  """(Served, its RunConfig, the DataConfig to read its test data with: `data`, with the run's own --data_file
  unless `data` names another) of a run directory or its export/."""
  served, saved = exports.load(path)
  run_config = RunConfig.from_json(saved)
  return served, run_config, dataclasses.replace(data, data_file=data.data_file or run_config.data.data_file)


def evaluate_export(path, data=DataConfig(), settings=None, batch_size=None, output_dir=None):
  """Test metrics of a run (or a bare export) on raw test inputs, and its task's report.

  Args:
    path: a run directory or its export/.
    data: where this machine keeps the data (the run's own --data_file is used unless `data` names another).
    settings: the task's evaluation settings (e.g. {"prime": "ROMEO:"} for textgen, {"beam_size": 1} for
      translation); a setting the task does not have is a UserError naming the task that has it.
    batch_size: examples per serving call (default: the run's training batch size).
    output_dir: where pictures go (default: `path`).

  Returns:
    {"task", "model", "topology", "test": {metric: value}} and, when the task reports them, "info", "samples",
    "tables" (name -> rows) and "pictures" (name -> PNG path).

  Example:
  >>> result = evaluate_export("runs/sentiment/bilstm", DataConfig(data_dir="../shared/tfds"))
  >>> result["test"]["accuracy"]
  0.9001
  """
  served, run_config, data = load_export(path, data)
  task_class = tasks.get(run_config.task, run_config.topology)
  resolved = config.evaluation_settings(task_class, settings)
  run_options = {k: v for k, v in resolved.items() if task_class.options[k].train}
  evaluation = {k: v for k, v in resolved.items() if not task_class.options[k].train}
  task = tasks.create(dataclasses.replace(run_config, data=data, options={**run_config.options, **run_options}))
  task.check_data()
  report = task.evaluate_served(served, batch_size or run_config.training.batch_size, evaluation)
  result = {"task": run_config.task, "model": run_config.model.name, "topology": run_config.topology,
            "test": report.metrics}
  if report.info:
    result["info"] = report.info
  if report.samples:
    result["samples"] = report.samples
  if report.tables:
    result["tables"] = report.tables
  for name, picture in report.images.items():
    written = os.path.join(output_dir or path, f"{name}.png")
    save_picture(picture, written)
    result.setdefault("pictures", {})[name] = written
  return result


def save_picture(picture, path):
  """A uint8 picture [height, width] (grey) or [height, width, 3] as a PNG, pixel for pixel."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  picture = np.asarray(picture, np.uint8)
  plt.imsave(path, picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=255)
