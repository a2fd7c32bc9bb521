"""What a run shows in TensorBoard beyond the loop's scalars: each epoch's samples and pictures (a few
translations, a generated passage, drawn digits), and at the end the run's settings with its final figures for
the HParams dashboard, which compares the runs of a grid (`tensorboard --logdir=runs/`)."""

import dataclasses
import os

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from engine.compare import markdown


def write_report(writer, report, step):
  """A task's Report (tasks/base.py) at `step`: its samples as a markdown table, each picture as an image."""
  with writer.as_default(step=step):
    if report.samples:
      tf.summary.text("samples", markdown(report.samples))
    for name, picture in report.images.items():
      picture = np.asarray(picture, np.uint8)
      if picture.ndim == 2:
        picture = picture[..., None]
      tf.summary.image(name, picture[None])
    for name, value in report.metrics.items():
      tf.summary.scalar(name, value)


def hparams(config):
  """The run's settings as HParams values (numbers, strings, booleans), named model.units, options.horizon, ..."""
  values = {"task": config.task, "model": config.model.name, "topology": config.topology}
  for part, settings in (("model", config.to_json()["model"]), ("training", dataclasses.asdict(config.training)),
                         ("options", config.options)):
    for name, value in settings.items():
      if name not in ("name",) and value is not None:
        values[f"{part}.{name}"] = value if isinstance(value, (bool, int, float, str)) else str(value)
  return values


def write_hparams(logs, config, trial, validation, test):
  """The run's settings and its final validation and test figures, in <logs>/hparams (one HParams session)."""
  writer = tf.summary.create_file_writer(os.path.join(logs, "hparams"))
  with writer.as_default(step=0):
    hparams_api.hparams(hparams(config), trial_id=trial)
    for split, figures in (("validation", validation), ("test", test)):
      for name, value in figures.items():
        tf.summary.scalar(f"final/{split}_{name}", value)
  writer.close()
