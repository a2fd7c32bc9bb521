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
import re
import time

import keras
import tensorflow as tf

import models
from engine import distribute, fine_tuning, stopping, tensorboard
from common.errors import UserError, first_line
from common.progress import Progress

CHECKPOINT_EVERY_SECONDS = 300
CALL_SECONDS = 0.5           # work per graph call between host syncs (progress bar, NaN check, checkpoint timer)
MAX_STEPS_PER_CALL = 100
SUMMARY_EVERY_STEPS = 50

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

  max_steps_per_call = None   # None: MAX_STEPS_PER_CALL; tests set 1 to act between any two steps

  def __init__(self, model, task, config, run, strategy=None):
    self.model, self.task, self.config, self.run = model, task, config, run
    self.batches = {}   # split -> batches of one evaluation pass, once one has run
    self.strategy = strategy or tf.distribute.get_strategy()
    training = config.training
    self.groups = fine_tuning.layer_groups(model)
    depths = fine_tuning.group_of(model)
    self._depth = [depths[v.path] for v in model.trainable_variables]
    with self.strategy.scope():
      # With --gradual_unfreezing, the groups this deep below the top or deeper get no update this epoch.
      self.frozen_depth = tf.Variable(len(self.groups) + 1, trainable=False, dtype=tf.int32)
      self.optimizer = fine_tuning.LayerwiseAdam(
          depths, training.discriminative_lr, frozen_depth=self.frozen_depth if training.gradual_unfreezing else None,
          learning_rate=training.learning_rate, global_clipnorm=training.clipnorm or None,
          use_ema=training.ema_momentum > 0, ema_momentum=training.ema_momentum or 0.99)
      if training.mixed_precision:  # scales the loss so float16 gradients do not underflow
        self.optimizer = keras.optimizers.LossScaleOptimizer(self.optimizer)
      self.optimizer.build(model.trainable_variables)
      self.train_metrics = task.training_metrics()
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
    _recover_checkpoint_index(run.checkpoints)
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
  # The loop calls a tf.function that runs up to `count` steps in the graph and returns their sums, so the host
  # waits on the device once per call, not once per step (a step of a small model takes milliseconds, and each
  # host round trip, reading a loss or a shape, costs a good part of that). `steps_per_call` adapts the count to
  # about CALL_SECONDS of work; checkpoints, summaries and NaN checks fall on call boundaries.

  def _replica_train_step(self, inputs, targets):
    with tf.GradientTape() as tape:
      outputs = _float32(self.model(models.feed(self.model, inputs), training=True))
      loss = tf.nn.compute_average_loss(self.task.per_example_loss(targets, outputs))
      if self.model.losses:
        loss += tf.nn.scale_regularization_loss(tf.add_n(self.model.losses))
      scaled = self.optimizer.scale_loss(loss)  # the loss itself, unless a LossScaleOptimizer scales it
    gradients = tape.gradient(scaled, self.model.trainable_variables)
    if self.config.training.gradual_unfreezing:   # frozen: a zero gradient, and Adam's moments stay zero
      gradients = [_scaled(g, depth < self.frozen_depth) for g, depth in zip(gradients, self._depth)]
    self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
    for metric in self.train_metrics.values():
      metric.update_state(targets, outputs)
    return loss, tf.shape(tf.nest.flatten(targets)[0], out_type=tf.int64)[0]

  @tf.function(reduce_retracing=True)
  def _train_steps(self, iterator, count):
    """Up to `count` steps from `iterator`: (steps run, their summed loss, examples read, whether every loss was
    finite). It stops early at the end of the data, and right after a non-finite loss."""
    steps, total, examples = tf.constant(0, tf.int64), tf.constant(0.0), tf.constant(0, tf.int64)
    finite = tf.constant(True)
    for _ in tf.range(count):
      batch = iterator.get_next_as_optional()
      if not batch.has_value():
        break
      inputs, targets = batch.get_value()
      loss, size = self.strategy.run(self._compiled_replica_train_step, args=(inputs, targets))
      loss = self.strategy.reduce("SUM", loss, axis=None)
      steps += 1
      total += loss
      examples += self.strategy.reduce("SUM", size, axis=None)
      if not tf.math.is_finite(loss):
        finite = tf.constant(False)
        break
    return steps, total, examples, finite

  def _replica_eval_step(self, inputs, targets):
    outputs = _float32(self.model(models.feed(self.model, inputs), training=False))
    self.eval_loss.update_state(self.task.per_example_loss(targets, outputs))
    for metric in self.eval_metrics.values():
      metric.update_state(targets, outputs)

  @tf.function(reduce_retracing=True)
  def _eval_steps(self, iterator, count):
    """Up to `count` evaluation steps from `iterator`: how many ran (fewer at the end of the data)."""
    steps = tf.constant(0, tf.int64)
    for _ in tf.range(count):
      batch = iterator.get_next_as_optional()
      if not batch.has_value():
        break
      self.strategy.run(self._replica_eval_step, args=batch.get_value())
      steps += 1
    return steps

  def _pace(self):
    return _Pace(self.max_steps_per_call, timed=not distribute.is_multi_worker(self.strategy))

  def reset_carried_state(self):
    for layer in self.stateful:
      layer.reset_state()

  def evaluate(self, split):
    """Loss and task metrics over a whole split (every example counted)."""
    self.reset_carried_state()
    for metric in [self.eval_loss, *self.eval_metrics.values()]:
      metric.reset_state()
    dataset = _shard_by_data(self.task.dataset(split, self.config.training.batch_size))
    iterator = iter(self.strategy.experimental_distribute_dataset(dataset))
    pace = self._pace()
    progress = Progress(f"Evaluating the {split} split", self.batches.get(split), unit="batches")
    while True:
      started = time.perf_counter()
      count = pace.next_count()
      ran = int(self._eval_steps(iterator, tf.constant(count, tf.int64)))
      pace.record(ran, time.perf_counter() - started)
      progress.update(ran)
      if stopping.requested():
        raise stopping.Stopped(stopping.requested())
      if ran < count:
        break
    progress.close()
    self.batches[split] = progress.done   # the next pass over this split shows how far it is
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
    segment_start = time.monotonic()
    pace = self._pace()

    def account_time():
      nonlocal segment_start
      now = time.monotonic()
      self.loop.train_seconds.assign_add(now - segment_start)
      segment_start = now

    try:
      with stopping.in_training_loop():
        self._epochs(training, writers, pace, account_time, on_epoch_end)
    finally:
      for writer in writers.values():
        writer.close()

  def _epochs(self, training, writers, pace, account_time, on_epoch_end):
    last_save = time.monotonic()
    while not self.done():
      epoch = int(self.loop.epoch)
      learning_rate = training.learning_rate * training.lr_decay**max(0, epoch - training.lr_hold_epochs)
      self.optimizer.learning_rate = learning_rate
      if training.gradual_unfreezing:
        self.frozen_depth.assign(fine_tuning.frozen_depth(epoch, len(self.groups)))
      dataset = self.task.dataset("train", training.batch_size, shuffle_seed=training.seed * 100_003 + epoch)
      dataset = _shard_by_data(dataset.skip(int(self.loop.step_in_epoch)))
      iterator = iter(self.strategy.experimental_distribute_dataset(dataset))
      if int(self.loop.step_in_epoch) == 0:
        self.reset_carried_state()  # a resumed epoch keeps the state its checkpoint restored
      progress = _Progress(epoch, training.epochs, int(self.loop.steps_per_epoch) or None,
                           int(self.loop.step_in_epoch))
      for metric in self.train_metrics.values():
        metric.reset_state()
      every = training.checkpoint_every_steps
      epoch_examples = 0
      while True:
        step = int(self.loop.step)
        count = pace.next_count()
        if every:   # a call ends on every checkpoint step
          count = min(count, every - step % every)
        if training.lr_schedule == "slanted_triangular":   # set per graph call: a call is a few steps
          learning_rate = training.learning_rate * fine_tuning.slanted_triangular(step, self._total_steps())
          self.optimizer.learning_rate = learning_rate
        started = time.perf_counter()
        ran, total, examples, finite = (t.numpy() for t in self._train_steps(iterator, tf.constant(count, tf.int64)))
        seconds = time.perf_counter() - started
        if not finite:
          raise Diverged(f"the training loss became {total / max(ran, 1)} at step {step + ran}; the last good "
                         "checkpoint is kept. Lower --learning_rate or set --clipnorm.")
        if ran:
          epoch_examples += int(examples)
          pace.record(ran, seconds)
          self.loop.step_seconds.assign_add(seconds)
          self.loop.examples.assign_add(examples)
          self.loop.step.assign_add(ran)
          self.loop.step_in_epoch.assign_add(ran)
          progress.update(ran, float(total), self.train_metrics)
          if (step + ran) // SUMMARY_EVERY_STEPS > step // SUMMARY_EVERY_STEPS:
            with writers["train"].as_default(step=step + ran):
              tf.summary.scalar("loss", float(total) / ran)
          if (every and (step + ran) % every == 0) or (
              self.checkpoint_every_seconds is not None
              and time.monotonic() - last_save > self.checkpoint_every_seconds):
            account_time()
            self.save()
            last_save = time.monotonic()
        if stopping.requested():   # a safe point: every counter agrees with the weights
          account_time()
          self.save()
          raise stopping.Stopped(stopping.requested())
        if ran < count:
          break

      self.loop.steps_per_epoch.assign(self.loop.step_in_epoch)
      if epoch == 0 and int(self.loop.step_in_epoch) == 1 and epoch_examples < training.batch_size:
        log.warning("The training data holds %d examples, fewer than --batch_size=%d: every epoch is a single step. "
                    "Lower --batch_size to learn from it.", epoch_examples, training.batch_size)
      try:
        with self._averaged_weights():
          validation = self.evaluate("validation")
          improved = self._track_best(validation[self.monitor])
          tensorboard.write_report(writers["validation"], self.task.epoch_report(self.model), epoch + 1)
      except stopping.Stopped:   # the epoch's steps are done; its validation is redone on resume
        account_time()
        self.save()
        raise
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

  def _total_steps(self):
    """The run's training steps: --epochs x the steps of an epoch (counted once, before the first has ended)."""
    if not int(self.loop.steps_per_epoch):
      batches = self.task.dataset("train", self.config.training.batch_size, shuffle_seed=0)
      self.loop.steps_per_epoch.assign(sum(1 for _ in batches))
    return self.config.training.epochs * int(self.loop.steps_per_epoch)

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


def _recover_checkpoint_index(directory):
  """Rebuilds a lost or unreadable `checkpoint` state file (a crash, a tidy-up) from the ckpt-N files beside it,
  so the run resumes from them: without it TensorFlow sees no checkpoint, and the run would start over and
  overwrite them."""
  try:
    if not os.path.isdir(directory) or tf.train.get_checkpoint_state(directory):
      return
  except Exception:   # a damaged state file reads as a parse error
    pass
  steps = sorted(int(m.group(1)) for name in os.listdir(directory)
                 if (m := re.fullmatch(r"ckpt-(\d+)\.index", name)))
  if not steps:
    return
  paths = [os.path.join(directory, f"ckpt-{step}") for step in steps]
  log.warning("%s/checkpoint (the index of this run's checkpoints) was missing or unreadable; rebuilt it from %s.",
              directory, ", ".join(os.path.basename(p) for p in paths))
  tf.compat.v1.train.update_checkpoint_state(directory, paths[-1], all_model_checkpoint_paths=paths)


def _scaled(gradient, factor):
  """A gradient times a scalar (a bool: 0 or 1); an embedding's (tf.IndexedSlices, only the rows read) stays
  sparse."""
  if gradient is None:
    return None
  factor = tf.cast(factor, gradient.dtype)
  if isinstance(gradient, tf.IndexedSlices):
    return tf.IndexedSlices(gradient.values * factor, gradient.indices, gradient.dense_shape)
  return gradient * factor


def _float32(outputs):
  """Model outputs in float32 (under mixed precision they come as float16), whatever their structure."""
  return tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), outputs)


class _Pace:
  """How many steps the next graph call runs: about CALL_SECONDS of work, measured as it goes (1 to start).

  Untimed (multi-worker training), every call runs `most` steps: each step is a collective all-reduce, so the
  workers must agree on the count, and their clocks would not.
  """

  def __init__(self, most=None, timed=True):
    self.most, self.timed, self.seconds_per_step = most or MAX_STEPS_PER_CALL, timed, None

  def next_count(self):
    if not self.timed:
      return self.most
    if self.seconds_per_step is None:
      return 1
    return max(1, min(self.most, int(CALL_SECONDS / max(self.seconds_per_step, 1e-6))))

  def record(self, steps, seconds):
    if steps:
      self.seconds_per_step = seconds / steps


def _shard_by_data(dataset):
  """Multi-worker: each worker takes its share of every batch (tfds data is one file: sharding by file fails)."""
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  return dataset.with_options(options)


class _Progress:
  """An epoch's progress (common/progress.py) and the mean of its losses; its summary line at the end."""

  def __init__(self, epoch, epochs, target, start):
    self.epoch, self.epochs = epoch + 1, epochs
    self.total, self.steps = 0.0, 0
    self.shown = Progress(f"Epoch {self.epoch}/{epochs}", target, start=start, stateful=("loss",))

  def update(self, steps, total_loss, metrics):
    """After `steps` more steps whose losses sum to total_loss."""
    self.total, self.steps = self.total + total_loss, self.steps + steps
    self.shown.update(steps, [("loss", total_loss / steps)] + [(n, float(m.result())) for n, m in metrics.items()])

  def mean_loss(self):
    return self.total / max(self.steps, 1)

  def close(self, validation, improved):
    self.shown.close()
    figures = ", ".join(f"{k} {v:.4f}" for k, v in validation.items())
    log.info("epoch %d/%d: train loss %.4f; validation %s%s", self.epoch, self.epochs, self.mean_loss(),
             figures, " (best so far)" if improved else "")
