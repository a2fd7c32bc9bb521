"""The zoo from Python (a notebook, a script): what train.py and evaluate.py do, by names and keyword settings.

    from engine import api
    data = api.DataConfig(data_dir="../shared/tfds")
    metrics = api.train("sentiment", "bilstm", "runs/sentiment/bilstm", data=data, epochs=2)
    model, task = api.load("runs/sentiment/bilstm")              # the trained keras.Model and its Task
    api.evaluate("runs/sentiment/bilstm", data=data)            # test metrics through the export
    api.compare("runs/")                                        # the table (and charts) of every run below

Settings are keyword arguments named as the flags are: hyperparameters (units=64, learning_rate=1e-3) and task
options (max_tokens=400, horizon=192) alike; an unknown name is a UserError naming what would work. Everything
train.py checks is checked here too, before anything is written.
"""

import dataclasses
import os

import keras

import models
import tasks
from common.errors import UserError
from common.files import read_json
from engine import compare as comparing
from engine import config, distribute, evaluation, grid, run
from engine.config import RunConfig
from engine.run_dir import RunDir
from tasks.base import DataConfig

__all__ = ["DataConfig", "UserError", "resolve", "build", "train", "train_grid", "load", "evaluate", "compare"]


def _split_settings(task_names, settings):
  """(hyperparameters, task options) of keyword settings; a name that is neither is a UserError."""
  hyperparameters = {k: v for k, v in settings.items() if k in config.HYPERPARAMETERS}
  options = {k: v for k, v in settings.items() if k not in config.HYPERPARAMETERS}
  known = {name for t in tasks.all_classes() for name in t.options}
  unknown = sorted(set(options) - known)
  if unknown:
    raise UserError(f"unknown setting(s) {', '.join(unknown)}; settings are the flags of train.py: "
                    f"{', '.join(sorted(set(config.HYPERPARAMETERS) | known))}.")
  return hyperparameters, options


def _init_from(settings):
  """train.py's --init_from among the keyword settings (a run directory or a list of them), as absolute paths."""
  given = settings.pop("init_from", None) or ()
  return tuple(os.path.abspath(path) for path in ([given] if isinstance(given, str) else given))


def resolve(task, model, topology=None, data=DataConfig(), **settings):
  """The RunConfig train.py would run for these names and settings (every default applied; `init_from=` a run
  directory or a list of them, as train.py's --init_from).

  Example:
  >>> api.resolve("textgen", "stacked_lstm", sequence_length=64).model.units
  512
  """
  init_from = _init_from(settings)
  hyperparameters, options = _split_settings([task], settings)
  return config.resolve(task, model, topology, hyperparameters, data, options, init_from)


@dataclasses.dataclass
class Built:
  """A task's model, untrained, and what feeds it: `task.dataset(split, config.training.batch_size)`."""
  config: RunConfig
  task: object
  model: keras.Model


def build(task, model, topology=None, data=DataConfig(), artifacts_dir=None, **settings):
  """The Keras model and Task of a run, without training: to inspect, or to train your own way.

  Args:
    task, model, topology: names, as train.py's --task, --model, --topology.
    data: where the data is.
    artifacts_dir: where the task keeps what it fits (vocabularies, the scaler); default a temporary folder.
    **settings: hyperparameters and task options, named as the flags.

  Example:
  >>> built = api.build("mnist", "gru", data=api.DataConfig(data_dir="../shared/tfds"), units=64)
  >>> built.model.count_params()
  17610
  >>> inputs, labels = next(iter(built.task.dataset("train", 32)))
  """
  import tempfile
  resolved = resolve(task, model, topology, data, **settings)
  task_object = tasks.create(resolved)
  task_object.check_data(resolved.training.batch_size)
  io = task_object.prepare(artifacts_dir or tempfile.mkdtemp(prefix="rnnzoo-"), resolved.training.batch_size)
  return Built(resolved, task_object, models.build(resolved.model, resolved.topology, io))


def train(task, model, model_dir, topology=None, data=DataConfig(), **settings):
  """Trains (or resumes, or skips when complete) one run in `model_dir`, tests and exports it: train.py for one
  run. Returns its metrics.json.

  Example:
  >>> metrics = api.train("mnist", "lstm", "runs/mnist/lstm", data=api.DataConfig(data_dir="../shared/tfds"))
  >>> metrics["test"]["accuracy"]
  0.9903
  """
  return train_grid([task], [model], model_dir, [topology] if topology else None, data, **settings)[0]


def train_grid(task_names, model_names, model_dir="runs", topologies=None, data=DataConfig(), **settings):
  """Every task x model (x topology) run, planned and checked before the first starts, then trained in turn under
  <model_dir>/<task>[-<dataset>]/<model>[-<topology>] (a single run: in model_dir itself). Returns their
  metrics.json contents in order."""
  init_from = _init_from(settings)
  hyperparameters, options = _split_settings(task_names, settings)
  planned = grid.plan(task_names, model_names, topologies, hyperparameters, data, options, model_dir,
                      init_from=init_from)
  strategy = distribute.make_strategy("auto")
  return [run.train_and_export(p.config, p.path, strategy) for p in planned]


def load(run_dir):
  """(the trained keras.Model with its best weights, its Task, prepared as it was trained) of a run directory.

  Example:
  >>> model, task = api.load("runs/sentiment/bilstm")
  >>> model(task.token_ids(tf.constant(["A fine film."])).to_tensor())
  """
  path = RunDir(run_dir)
  if not path.exists():
    raise UserError(f"{run_dir} holds no run (no config.json); pass a directory train.py wrote.")
  resolved = RunConfig.from_json(read_json(path.config_path))
  task_object = tasks.create(resolved)
  io = task_object.prepare(run_dir, resolved.training.batch_size)
  model = models.build(resolved.model, resolved.topology, io)
  model.load_weights(path.best_weights)
  return model, task_object


def evaluate(path, data=DataConfig(), batch_size=None, output_dir=None, **settings):
  """evaluate.py --model_dir: test metrics of a run's export on raw test inputs, and its task's report (samples,
  tables, pictures). `settings` are the task's evaluation settings (prime="ROMEO:", beam_size=1, ...)."""
  return evaluation.evaluate_export(path, data, settings, batch_size, output_dir)


def compare(root, output=None):
  """evaluate.py --runs: (the markdown table of every run below `root`, the paths of the charts written)."""
  runs = comparing.collect(root)
  if not runs:
    raise UserError(f"{root} holds no run directories (folders with config.json and metrics.json).")
  return comparing.table(runs), comparing.charts(runs, output or f"{root}/comparison")
