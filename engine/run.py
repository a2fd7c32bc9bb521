"""One run from a resolved config to a finished run directory: train, test, export."""

import shutil
import time

import logging

import keras
import tensorflow as tf

import models
import tasks
from engine import export
from engine.errors import UserError
from engine.loop import Trainer
from engine.run_dir import RunDir

log = logging.getLogger("rnnzoo")


def check(config, path):
  """Everything that can fail on a user's mistake, before anything is written."""
  run = RunDir(path)
  run.check_compatible(config)
  if run.exists():
    run.check_not_in_use()
  run.check_writable()
  tasks.create(config).check_data()


def train_and_export(config, path):
  """Trains (or resumes) the run in `path`, then writes its test metrics and export.

  Returns metrics.json's content. A completed run is not trained again.
  """
  run = RunDir(path)
  if run.metrics().get("status") == "completed":
    log.info("%s is already complete; skipping.", path)
    return run.metrics()
  fresh = not run.exists()
  run.create(config)
  lock = run.acquire()
  try:
    return _train_and_export(config, run, fresh)
  finally:
    lock.close()


def _train_and_export(config, run, fresh):
  path = run.path
  spec = config.model
  run.update_metrics(status="running", error=None, task=config.task, model=spec.name, topology=config.topology,
                     dataset=config.data.data_file or tasks.get(config.task).tfds_name, last_started=time.strftime("%Y-%m-%dT%H:%M:%S"))
  try:
    keras.backend.clear_session()  # a grid runs many models in one process: start each from a clean slate
    keras.utils.set_random_seed(config.training.seed)
    if config.training.deterministic:
      tf.config.experimental.enable_op_determinism()
    task = tasks.create(config)
    io = task.prepare(run.path, config.training.batch_size)
    model = models.build(spec, config.topology, io)
    trainer = Trainer(model, task, config, run)
    history = run.metrics().get("history", []) if trainer.restore() else []
    history = [h for h in history if h["epoch"] <= int(trainer.loop.epoch)]

    def record(epoch):
      seconds, speed = trainer.throughput()
      history.append({**epoch, "train_seconds": round(seconds, 1)})
      run.update_metrics(history=history, train_seconds=seconds, train_examples_per_second=speed)

    trainer.fit(on_epoch_end=record)
    trainer.restore_best()
    validation, test = trainer.evaluate("validation"), trainer.evaluate("test")
    export.export(model, task, config, run.export)
    seconds, speed = trainer.throughput()
    run.update_metrics(
        status="completed", num_params=model.count_params(), epochs_trained=int(trainer.loop.epoch),
        train_seconds=seconds, train_examples_per_second=speed, validation=validation, test=test,
        info={"monitor": task.monitor[0],
              "selection": f"weights of the epoch with the best validation {task.monitor[0]}"})
    log.info("%s: test %s", path, ", ".join(f"{k} {v:.4f}" for k, v in test.items()))
    return run.metrics()
  except UserError:
    if fresh:  # a user's mistake leaves no half-written run behind
      shutil.rmtree(run.path, ignore_errors=True)
    raise
  except BaseException as e:
    run.update_metrics(status="failed", error=f"{type(e).__name__}: {e}".strip())
    raise
