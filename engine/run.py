"""One run from a resolved config to a finished run directory: train, test, export."""

import logging
import os
import shutil
import tempfile
import time

import keras
import tensorflow as tf

import models
import tasks
from engine import distribute, export, provenance, stopping, tensorboard, transfer
from engine.config import read_sources
from common import exports
from common.errors import UserError
from engine.loop import Trainer
from engine.run_dir import RunDir

log = logging.getLogger("rnnzoo")


def check(config, path):
  """Everything that can fail on a user's mistake, before anything is written."""
  run = RunDir(path)
  run.check_compatible(config)
  run.check_writable()
  if run.exists():
    run.check_not_in_use()
  tasks.create(config).check_data(config.training.batch_size)


def train_and_export(config, path, strategy=None):
  """Trains (or resumes) the run in `path`, then writes its test metrics and export.

  Returns metrics.json's content. A completed run is not trained again, unless --epochs grew past the
  epochs it trained without stopping early: then it goes on from its last epoch. Under a multi-worker
  strategy, workers other than the chief work in a temporary directory, removed at the end.
  """
  strategy = strategy or tf.distribute.get_strategy()
  chief_run = RunDir(path)
  finished = chief_run.metrics()
  if finished.get("status") == "completed" and (
      finished.get("stopped_early") or finished.get("epochs_trained", 0) >= config.training.epochs):
    if distribute.is_chief(strategy):
      try:
        exports.load(chief_run.export)
      except UserError as e:   # a damaged or missing export is made again from the best weights, not retrained
        log.warning("%s is complete but its export is not usable (%s); exporting it again.", path, e)
        _export_again(config, chief_run, strategy)
        return chief_run.metrics()
    log.info("%s is already complete; skipping.", path)
    return finished
  if not distribute.is_chief(strategy):
    scratch = tempfile.mkdtemp(prefix="rnnzoo-worker-")
    try:
      return _train_and_export(config, RunDir(scratch), True, strategy, restore_from=chief_run)
    finally:
      shutil.rmtree(scratch, ignore_errors=True)
  fresh = not chief_run.exists()
  made_directory = not os.path.exists(path)   # a user's own (empty) directory is never removed
  chief_run.create(config)
  lock = chief_run.acquire()
  try:
    return _train_and_export(config, chief_run, fresh, strategy, restore_from=chief_run,
                             keep_directory=not made_directory)
  finally:
    lock.close()


def _export_again(config, run, strategy):
  lock = run.acquire()
  try:
    keras.backend.clear_session()
    distribute.set_precision(config.training.mixed_precision)
    task = tasks.create(config)
    io = task.prepare(run.path, config.training.batch_size)
    with strategy.scope():
      model = models.build(config.model, config.topology, io)
    model.load_weights(run.best_weights)
    export.export(model, task, config, run.export)
  finally:
    lock.close()


def _train_and_export(config, run, fresh, strategy, restore_from, keep_directory=False):
  path = run.path
  if run is not restore_from:
    run.create(config)
  spec = config.model
  task = tasks.create(config)
  run.update_metrics(status="running", error=None, task=config.task, model=spec.name, topology=config.topology,
                     dataset=task.dataset_name(), last_started=time.strftime("%Y-%m-%dT%H:%M:%S"),
                     environment=provenance.environment())
  try:
    keras.backend.clear_session()  # a grid runs many models in one process: start each from a clean slate
    keras.utils.set_random_seed(config.training.seed)
    if config.training.deterministic:
      tf.config.experimental.enable_op_determinism()
    distribute.set_precision(config.training.mixed_precision)
    if config.init_from:   # a no-op on resume: the run holds the vocabulary it took over
      transfer.carry_vocabulary(config.init_from[0], task, restore_from.path)
    io = task.prepare(restore_from.path, config.training.batch_size)
    with strategy.scope():
      model = models.build(spec, config.topology, io)
    trainer = Trainer(model, task, config, run, strategy)
    resumed = trainer.restore(restore_from.checkpoints)
    if config.init_from and not resumed:   # a resumed run has its own weights by now, and needs no source
      sources = read_sources(config.init_from)
      landed = transfer.initialize(model, sources, backwards=task.reads_backwards())
      log.info("Started from %s: %s.", ", ".join(config.init_from), "; ".join(landed))
      run.update_metrics(init_from={"runs": [_source_summary(s) for s in sources], "weights": landed})
    history = restore_from.metrics().get("history", []) if resumed else []
    history = [h for h in history if h["epoch"] <= int(trainer.loop.epoch)]

    def record(epoch):
      seconds, speed = trainer.throughput()
      history.append({**epoch, "train_seconds": round(seconds, 1)})
      run.update_metrics(history=history, train_seconds=seconds, train_examples_per_second=speed)

    trainer.fit(on_epoch_end=record)
    trainer.restore_best(fallback=restore_from.best_weights)
    validation, test = trainer.evaluate("validation"), trainer.evaluate("test")
    decoded = task.decoded_report(model)
    test |= decoded.metrics
    export.export(model, task, config, run.export)
    tensorboard.write_hparams(run.logs, config, os.path.relpath(run.path), validation, test)
    seconds, speed = trainer.throughput()
    run.update_metrics(
        status="completed", num_params=model.count_params(), epochs_trained=int(trainer.loop.epoch),
        stopped_early=bool(trainer.loop.stopped),
        train_seconds=seconds, train_examples_per_second=speed, validation=validation, test=test,
        info={**decoded.info, "monitor": task.monitor[0],
              "selection": f"weights of the epoch with the best validation {task.monitor[0]}",
              "strategy": f"{type(strategy).__name__} ({strategy.num_replicas_in_sync} replica(s))"})
    log.info("%s: test %s", path, ", ".join(f"{k} {v:.4f}" for k, v in test.items()))
    return run.metrics()
  except stopping.Stopped as e:   # SIGTERM / SIGINT: the last checkpoint is where the same command resumes
    run.update_metrics(status="stopped", error=f"{e}; run the same command to resume")
    raise
  except UserError as e:
    if fresh:  # a user's mistake leaves no half-written run behind, and only what the zoo made is removed
      _remove_run(run.path, keep_directory)
    else:  # ...and an existing run says why it stopped instead of reading "running" forever
      run.update_metrics(status="failed", error=str(e))
    raise
  except BaseException as e:
    run.update_metrics(status="failed", error=f"{type(e).__name__}: {e}".strip())
    raise


def _source_summary(source):
  """What metrics.json records of a run this one started from."""
  return {"run": source.path, "task": source.config.task, "model": source.config.model.name,
          "directions": list(source.directions()), "status": source.metrics.get("status"),
          "epochs_trained": len(source.metrics.get("history", [])), "validation": source.metrics.get("validation")}


def _remove_run(path, keep_directory):
  if not keep_directory:
    shutil.rmtree(path, ignore_errors=True)
    return
  for name in os.listdir(path):
    entry = os.path.join(path, name)
    if os.path.isdir(entry) and not os.path.islink(entry):
      shutil.rmtree(entry, ignore_errors=True)
    else:
      os.remove(entry)
