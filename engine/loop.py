"""The training loop: a tf.function step under a tf.distribute strategy, with exact resume.

Why not `model.fit`: it cannot run under MultiWorkerMirroredStrategy in Keras 3.15, and its
BackupAndRestore restarts a killed epoch from its first batch on already-updated weights.

Resume: the checkpoint holds the model, the optimizer, the dropout seed states and the loop's
position (epoch, step within it). Each epoch's shuffle is seeded by (seed, epoch), so a resumed
epoch rebuilds the same batch order and skips the batches already trained. That gives the result
of an uninterrupted run without storing shuffle buffers (tens of MB) in every checkpoint.
"""

import contextlib
import logging
import math
import os
import sys
import time

import keras
import tensorflow as tf

from engine import distribute
from common.errors import UserError, first_line

CHECKPOINT_EVERY_SECONDS = 300
SUMMARY_EVERY_STEPS = 50
LOG_EVERY_STEPS = 200   # when stdout is not a terminal and so gets no progress bar

log = logging.getLogger("rnnzoo")


class Diverged(RuntimeError):
  """The loss became NaN or Inf; the last good checkpoint is kept and the run is marked failed."""


def _counter(dtype=tf.int64, value=0):
  return tf.Variable(value, dtype=dtype, trainable=False)


class Trainer:
  """Trains a model on a task: the custom loop, its checkpoints, early stopping and TensorBoard logs.

  Args:
    model: the keras.Model `models.build` made for the task's IOSpec (built under `strategy.scope()`).
    task: the Task object (its datasets, loss, metrics and monitored validation metric).
    config: the run's RunConfig (its `training` settings).
    run: the RunDir it checkpoints and logs into.
    strategy: a tf.distribute strategy (default: the current one).

  Example (what engine/run.py does; `python train.py` is the usual way in):
  >>> config = engine.config.resolve("mnist", "lstm", data=DataConfig(data_dir="../shared/tfds"))
  >>> task, run = tasks.create(config), RunDir("runs/mnist/lstm")
  >>> run.create(config)
  >>> model = models.build(config.model, config.topology, task.prepare(run.path))
  >>> trainer = Trainer(model, task, config, run)
  >>> trainer.restore()        # False on a fresh run; True (and where it stopped) on a resumed one
  >>> trainer.fit()
  >>> trainer.evaluate("test")
  {'loss': 0.03..., 'accuracy': 0.99...}
  """

  def __init__(self, model, task, config, run, strategy=None):
    self.model, self.task, self.config, self.run = model, task, config, run
    self.strategy = strategy or tf.distribute.get_strategy()
    training = config.training
    with self.strategy.scope():
      self.optimizer = keras.optimizers.Adam(training.learning_rate, global_clipnorm=training.clipnorm or None,
                                             use_ema=training.ema_momentum > 0,
                                             ema_momentum=training.ema_momentum or 0.99)
      if training.mixed_precision:  # scales the loss so float16 gradients do not underflow
        self.optimizer = keras.optimizers.LossScaleOptimizer(self.optimizer)
      self.optimizer.build(model.trainable_variables)
      self.train_metrics = task.metrics()
      self.eval_metrics = task.metrics()
      self.eval_loss = keras.metrics.Mean(name="loss")
    self._compiled_replica_train_step = (tf.function(self._replica_train_step, jit_compile=True)
                                         if training.jit_compile else self._replica_train_step)
    # Workers of a multi-worker run must checkpoint in lockstep: no wall-clock trigger there.
    self.checkpoint_every_seconds = None if distribute.is_multi_worker(self.strategy) else CHECKPOINT_EVERY_SECONDS
    self.monitor, self.mode = task.monitor
    self.loop = tf.train.Checkpoint(
        step=_counter(), epoch=_counter(), step_in_epoch=_counter(), steps_per_epoch=_counter(),
        stopped=_counter(), epochs_without_improvement=_counter(), best=_counter(tf.float64, math.nan),
        train_seconds=_counter(tf.float64), step_seconds=_counter(tf.float64), examples=_counter())
    seeds = [v for v in model.variables if "seed_generator_state" in v.path]
    # Layers that carry state across batches (truncated BPTT) keep it outside model.variables.
    self.stateful = [layer for layer in model.layers if getattr(layer, "stateful", False)]
    carried = [v for layer in self.stateful for v in layer.states]
    self.checkpoint = tf.train.Checkpoint(model=model, optimizer=self.optimizer, seeds=seeds, carried=carried,
                                          loop=self.loop)
    self.manager = tf.train.CheckpointManager(self.checkpoint, run.checkpoints, max_to_keep=2)

  # -- state ---------------------------------------------------------------------------------

  def restore(self, directory=None):
    """Restores the newest readable checkpoint (of `directory`, default this run's); returns whether one was found.

    A checkpoint damaged by a crash mid-write falls back to the one before it (the manager keeps two), so a
    corrupt file costs at most one checkpoint interval of training, never the run.
    """
    state = tf.train.get_checkpoint_state(directory or self.run.checkpoints)
    paths = list(reversed(state.all_model_checkpoint_paths)) if state else []
    damaged = []
    for path in paths:
      try:
        self.checkpoint.restore(path).assert_existing_objects_matched()
      except Exception as e:  # TF reports damage as OpError, IndexError, ValueError, AssertionError...
        damaged.append(f"{path}: {first_line(e)}")
        continue
      for reason in damaged:
        log.warning("Skipped unreadable checkpoint %s", reason)
      log.info("Resumed from %s (epoch %d, step %d).", path, int(self.loop.epoch) + 1, int(self.loop.step))
      return True
    if damaged:
      raise UserError("no checkpoint of this run can be read (corrupt, or written by another model): "
                      + "; ".join(damaged) + ". Move the checkpoints/ folder aside to start this run over, "
                      "or use a new --model_dir.")
    return False

  def save(self):
    self.manager.save(checkpoint_number=int(self.loop.step))

  def done(self):
    return bool(self.loop.stopped) or int(self.loop.epoch) >= self.config.training.epochs

  def restore_best(self, fallback=None):
    """Loads the best epoch's weights (this run's, else `fallback`'s: a worker resumed beside its chief)."""
    for path in (self.run.best_weights, fallback):
      if path and os.path.exists(path):
        self.model.load_weights(path)
        return

  # -- steps -----------------------------------------------------------------------------------

  def _replica_train_step(self, inputs, targets):
    with tf.GradientTape() as tape:
      outputs = tf.cast(self.model(inputs, training=True), tf.float32)
      loss = tf.nn.compute_average_loss(self.task.per_example_loss(targets, outputs))
      if self.model.losses:
        loss += tf.nn.scale_regularization_loss(tf.add_n(self.model.losses))
      scaled = self.optimizer.scale_loss(loss)  # the loss itself, unless a LossScaleOptimizer scales it
    gradients = tape.gradient(scaled, self.model.trainable_variables)
    self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
    for metric in self.train_metrics.values():
      metric.update_state(targets, outputs)
    return loss

  @tf.function(reduce_retracing=True)
  def _train_step(self, inputs, targets):
    losses = self.strategy.run(self._compiled_replica_train_step, args=(inputs, targets))
    return self.strategy.reduce("SUM", losses, axis=None)

  def _replica_eval_step(self, inputs, targets):
    outputs = tf.cast(self.model(inputs, training=False), tf.float32)
    self.eval_loss.update_state(self.task.per_example_loss(targets, outputs))
    for metric in self.eval_metrics.values():
      metric.update_state(targets, outputs)

  @tf.function(reduce_retracing=True)
  def _eval_step(self, inputs, targets):
    self.strategy.run(self._replica_eval_step, args=(inputs, targets))

  def reset_carried_state(self):
    for layer in self.stateful:
      layer.reset_state()

  def evaluate(self, split):
    """Loss and task metrics over a whole split (every example counted)."""
    self.reset_carried_state()
    for metric in [self.eval_loss, *self.eval_metrics.values()]:
      metric.reset_state()
    dataset = _shard_by_data(self.task.dataset(split, self.config.training.batch_size))
    for inputs, targets in self.strategy.experimental_distribute_dataset(dataset):
      self._eval_step(inputs, targets)
    return {"loss": float(self.eval_loss.result()),
            **{name: float(metric.result()) for name, metric in self.eval_metrics.items()}}

  # -- the loop --------------------------------------------------------------------------------

  def fit(self, on_epoch_end=None):
    """Trains until the epochs run out or validation stops improving for `patience` epochs.

    on_epoch_end(record) is called after each epoch's checkpoint, with the epoch's figures.
    """
    training = self.config.training
    if not self.model.trainable_variables:  # a baseline such as naive: nothing to learn
      log.info("%s has no trainable weights; it is evaluated as it is.", self.model.name)
      self.loop.epoch.assign(training.epochs)
      return
    writers = {split: tf.summary.create_file_writer(os.path.join(self.run.logs, split))
               for split in ("train", "validation")}
    segment_start = last_save = time.monotonic()

    def account_time():
      nonlocal segment_start
      now = time.monotonic()
      self.loop.train_seconds.assign_add(now - segment_start)
      segment_start = now

    while not self.done():
      epoch = int(self.loop.epoch)
      learning_rate = training.learning_rate * training.lr_decay**epoch
      self.optimizer.learning_rate = learning_rate
      dataset = self.task.dataset("train", training.batch_size, shuffle_seed=training.seed * 100_003 + epoch)
      dataset = _shard_by_data(dataset.skip(int(self.loop.step_in_epoch)))
      if int(self.loop.step_in_epoch) == 0:
        self.reset_carried_state()  # a resumed epoch keeps the state its checkpoint restored
      progress = _Progress(epoch, training.epochs, int(self.loop.steps_per_epoch) or None)
      for metric in self.train_metrics.values():
        metric.reset_state()
      for inputs, targets in self.strategy.experimental_distribute_dataset(dataset):
        started = time.perf_counter()
        loss = float(self._train_step(inputs, targets))
        self.loop.step_seconds.assign_add(time.perf_counter() - started)
        if not math.isfinite(loss):
          raise Diverged(f"the training loss became {loss} at step {int(self.loop.step) + 1}; the last good "
                         "checkpoint is kept. Lower --learning_rate or set --clipnorm.")
        self.loop.examples.assign_add(sum(int(tf.shape(t)[0]) for t in self.strategy.experimental_local_results(targets)))
        self.loop.step.assign_add(1)
        self.loop.step_in_epoch.assign_add(1)
        progress.update(int(self.loop.step_in_epoch), loss, self.train_metrics)
        if int(self.loop.step) % SUMMARY_EVERY_STEPS == 0:
          with writers["train"].as_default(step=int(self.loop.step)):
            tf.summary.scalar("loss", loss)
        every = training.checkpoint_every_steps
        if (every and int(self.loop.step) % every == 0) or (
            self.checkpoint_every_seconds is not None and time.monotonic() - last_save > self.checkpoint_every_seconds):
          account_time()
          self.save()
          last_save = time.monotonic()

      self.loop.steps_per_epoch.assign(self.loop.step_in_epoch)
      with self._averaged_weights():
        validation = self.evaluate("validation")
        improved = self._track_best(validation[self.monitor])
      train = {"loss": progress.mean_loss(), "learning_rate": learning_rate,
               **{n: float(m.result()) for n, m in self.train_metrics.items()}}
      for split, figures in (("train", train), ("validation", validation)):
        with writers[split].as_default(step=epoch + 1):
          for name, value in figures.items():
            tf.summary.scalar(f"epoch_{name}", value)
      self.loop.epoch.assign_add(1)
      self.loop.step_in_epoch.assign(0)
      account_time()
      self.save()
      last_save = time.monotonic()
      progress.close(validation, improved)
      if on_epoch_end:
        on_epoch_end({"epoch": epoch + 1, "train": train, "validation": validation})
    for writer in writers.values():
      writer.close()

  @contextlib.contextmanager
  def _averaged_weights(self):
    """With --ema_momentum, the moving average stands in for the weights (to validate and keep the best) until
    the block ends; training and its checkpoints go on from the weights themselves."""
    if not self.config.training.ema_momentum:
      yield
      return
    variables = self.model.trainable_variables
    weights = [tf.identity(v) for v in variables]
    self.optimizer.finalize_variable_values(variables)
    try:
      yield
    finally:
      for variable, value in zip(variables, weights):
        variable.assign(value)

  def _track_best(self, value):
    best = float(self.loop.best)
    better = math.isnan(best) or (value > best if self.mode == "max" else value < best)
    if better:
      self.loop.best.assign(value)
      self.loop.epochs_without_improvement.assign(0)
      self._save_best_weights()
    else:
      self.loop.epochs_without_improvement.assign_add(1)
      patience = self.config.training.patience
      if patience and int(self.loop.epochs_without_improvement) >= patience:
        self.loop.stopped.assign(1)
    return better

  def _save_best_weights(self):
    tmp = os.path.join(self.run.path, ".best.tmp.weights.h5")  # Keras wants the .weights.h5 suffix
    self.model.save_weights(tmp)
    os.replace(tmp, self.run.best_weights)

  def throughput(self):
    """(cumulative training seconds, training examples per second of step time)."""
    seconds = float(self.loop.step_seconds)
    return float(self.loop.train_seconds), (int(self.loop.examples) / seconds if seconds else 0.0)


def _shard_by_data(dataset):
  """Multi-worker: each worker takes its share of every batch (tfds data is one file: sharding by file fails)."""
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  return dataset.with_options(options)


class _Progress:
  """A Keras progress bar on a terminal; periodic log lines otherwise (CI, nohup, log files)."""

  def __init__(self, epoch, epochs, target):
    self.epoch, self.epochs = epoch + 1, epochs
    self.losses = []
    self.bar = keras.utils.Progbar(target, stateful_metrics=["loss"]) if sys.stdout.isatty() else None
    if self.bar:
      print(f"Epoch {self.epoch}/{epochs}")

  def update(self, step, loss, metrics):
    self.losses.append(loss)
    if self.bar:
      self.bar.update(step, [("loss", loss)] + [(n, float(m.result())) for n, m in metrics.items()])
    elif step % LOG_EVERY_STEPS == 0:
      log.info("epoch %d/%d step %d: loss %.4f", self.epoch, self.epochs, step, self.mean_loss())

  def mean_loss(self):
    return sum(self.losses) / max(len(self.losses), 1)

  def close(self, validation, improved):
    if self.bar:
      print()
    figures = ", ".join(f"{k} {v:.4f}" for k, v in validation.items())
    log.info("epoch %d/%d: train loss %.4f; validation %s%s", self.epoch, self.epochs, self.mean_loss(),
                 figures, " (best so far)" if improved else "")
