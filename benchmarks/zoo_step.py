"""The zoo's side of the benchmarks: the training step train.py runs (the Trainer's graph calls) around the model of
a configuration's preset, and what it computes (recurrent FLOPs, this machine's matmul peak)."""

import tempfile
import time

from benchmarks.reference import TorchWorker, examples_per_second, make_data


def recurrent_flops_per_example(config):
  """Multiply-adds x 2 of the recurrent layers for one example: forward, plus backward (about twice forward)."""
  gates = {"lstm": 4, "gru": 3}[config.cell]
  directions = 2 if config.bidirectional else 1
  inputs = config.features or config.embedding
  total = 0
  for layer in range(config.layers):
    width = inputs if layer == 0 else config.units * directions
    total += 2 * config.time * gates * config.units * (width + config.units) * directions
  return 3 * total


def matmul_peak_gflops(n=2048, repeats=5):
  import tensorflow as tf
  a, b = tf.random.normal([n, n]), tf.random.normal([n, n])
  tf.linalg.matmul(a, b).numpy()
  best = 0.0
  for _ in range(repeats):
    start = time.perf_counter()
    tf.linalg.matmul(a, b).numpy()
    best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
  return best


def zoo_trainer(config):
  """The Trainer train.py builds, around the model of the configuration's preset and an IOSpec like its task's."""
  import dataclasses

  import tensorflow as tf

  import models
  from engine.config import RunConfig, TrainingSpec
  from engine.loop import Trainer, _Pace
  from engine.run_dir import RunDir
  from models import IOSpec
  from tasks.base import ClassificationTask, DataConfig

  preset = {("lstm", False, 1): "lstm", ("lstm", True, 1): "bilstm", ("gru", True, 1): "bigru",
            ("lstm", False, 2): "stacked_lstm"}[(config.cell, config.bidirectional, config.layers)]
  topology = "many_to_many" if config.head == "per_step" else "many_to_one"
  pooling = {"last": "last", "pooled": "mean", "per_step": "last"}[config.head]
  spec = dataclasses.replace(models.get(preset), units=config.units, dropout=0.0, pooling=pooling,
                             embedding_dim=config.embedding or 128)
  if config.features:
    io = IOSpec("features", config.features, config.classes, sequence_length=config.time)
  else:
    io = IOSpec("tokens", config.vocabulary, config.classes, sequence_length=config.time)
  x, y = make_data(config)

  class Synthetic(ClassificationTask):
    name, tfds_name, topologies, num_classes = "benchmark", "synthetic", (topology,), config.classes
    class_names = tuple(str(i) for i in range(config.classes))

    def check_data(self, batch_size=None):
      pass

    def prepare(self, artifacts_dir, batch_size=None):
      return io

    def dataset(self, split, batch_size, shuffle_seed=None):
      return tf.data.Dataset.from_tensors((x, y)).repeat()

    def per_example_loss(self, targets, outputs):
      losses = super().per_example_loss(targets, outputs)
      return tf.reduce_mean(losses, axis=-1) if topology == "many_to_many" else losses

    def serving_endpoint(self, model):
      raise NotImplementedError

    def raw_test_batches(self, batch_size):
      raise NotImplementedError

  training = TrainingSpec(batch_size=config.batch)   # Adam 1e-3, clipnorm 5, as train.py's defaults
  run_config = RunConfig("benchmark", topology, spec, training, DataConfig())
  model = models.build(spec, topology, io)
  trainer = Trainer(model, Synthetic(DataConfig()), run_config, RunDir(tempfile.mkdtemp(prefix="rnnzoo-bench-")))
  iterator = iter(trainer.task.dataset("train", config.batch))
  pace = _Pace()   # as many steps per graph call as the loop itself runs: about half a second's work
  for _ in range(3):
    started = time.perf_counter()
    ran = int(trainer._train_steps(iterator, tf.constant(pace.next_count(), tf.int64))[0])
    pace.record(ran, time.perf_counter() - started)
  steps = tf.constant(pace.next_count(), tf.int64)
  return lambda: trainer._train_steps(iterator, steps)[0].numpy(), int(steps)


def windows_of(run_call, steps_per_call, batch, seconds):
  """Runs whole graph calls for about `seconds`; training examples per second of that window."""
  return examples_per_second(run_call, steps_per_call * batch, seconds)


def side_by_side(config, windows, seconds):
  """(zoo, PyTorch) training examples per second of `windows` timed windows each, the two taking turns window by
  window so that a noisy neighbour slows both alike."""
  run_call, steps = zoo_trainer(config)
  run_call()   # traced and warm before timing
  worker = TorchWorker(config)
  zoo, torch = [], []
  try:
    for _ in range(windows):
      zoo.append(windows_of(run_call, steps, config.batch, seconds))
      torch.append(worker.window(seconds))
  finally:
    worker.close()
  return zoo, torch
