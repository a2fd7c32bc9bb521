"""Microbenchmark of the recurrent layers: training examples/s, stock Keras vs the zoo's layers vs PyTorch.

    python benchmarks/kernels.py                       # the five configurations, 7 windows of ~2 s each
    python benchmarks/kernels.py --configs=mnist --windows=11 --window_seconds=3

A bare train step per configuration: forward, loss, GradientTape, Adam apply, in one tf.function, with TF's
default threading (intra 0, inter 0). "keras" builds it from keras.layers, "zoo" from models.recurrent (the
fused kernel on CPU; the same weights), "torch" the same shapes in PyTorch 2.13 (torch.nn.LSTM/GRU, which run
oneDNN's fused RNN primitive), when torch is importable. The implementations take turns window by window so
that a noisy neighbour slows all of them alike; the table has each one's median over its windows and the
ratios of the medians. Not a test: timing is never asserted anywhere.

The data are random and unpadded (every step a real token), as in the PyTorch reference; the sentiment
configurations still mask (mask_zero=True), so the masked code path is what is timed.
"""

import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

from absl import app, flags

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_CONFIGS = flags.DEFINE_list("configs", "mnist,charlm,bilstm,bigru,stacked_lstm", "Which configurations to run.")
_WINDOWS = flags.DEFINE_integer("windows", 7, "Timed windows per implementation and configuration.")
_WINDOW_SECONDS = flags.DEFINE_float("window_seconds", 2.0, "Approximate length of one timed window.")
_TORCH = flags.DEFINE_bool("torch", True, "Also time PyTorch, when it is importable.")


@dataclasses.dataclass(frozen=True)
class Config:
  """One benchmark configuration: shapes of the zoo's benchmark runs (see the project's benchmark brief)."""
  name: str
  description: str
  batch: int
  time: int
  cell: str                  # lstm | gru
  units: int
  layers: int = 1
  bidirectional: bool = False
  features: int = 0          # float inputs [batch, time, features] (mnist), else token ids
  vocabulary: int = 0
  embedding: int = 0
  mask: bool = False         # Embedding(mask_zero=True)
  head: str = "last"         # last: Dense on the final output; per_step: Dense on every step; pooled: mean
  classes: int = 2


CONFIGS = {c.name: c for c in [
    Config("mnist", "MNIST rows: 28 x 28 floats, LSTM 128, Dense 10", batch=128, time=28, cell="lstm", units=128,
           features=28, classes=10),
    Config("charlm", "char LM: Embedding 65 -> 64, LSTM 256, Dense 65 per step", batch=64, time=100, cell="lstm",
           units=256, vocabulary=65, embedding=64, head="per_step", classes=65),
    Config("bilstm", "IMDB-like: Embedding 20k -> 128 (masked), BiLSTM 64, mean pool, Dense 2", batch=64,
           time=200, cell="lstm", units=64, bidirectional=True, vocabulary=20000, embedding=128, mask=True,
           head="pooled"),
    Config("bigru", "IMDB-like, BiGRU 64", batch=64, time=200, cell="gru", units=64, bidirectional=True,
           vocabulary=20000, embedding=128, mask=True, head="pooled"),
    Config("stacked_lstm", "IMDB-like, 2 stacked LSTM 128", batch=64, time=200, cell="lstm", units=128, layers=2,
           vocabulary=20000, embedding=128, mask=True, head="pooled"),
]}


def make_data(config, seed=0):
  """Random inputs and labels (numpy): ids in [1, vocabulary) so that nothing is padding."""
  import numpy as np
  rng = np.random.default_rng(seed)
  if config.features:
    x = rng.random((config.batch, config.time, config.features), dtype=np.float32)
  else:
    x = rng.integers(1, config.vocabulary, (config.batch, config.time)).astype(np.int32)
  label_shape = (config.batch, config.time) if config.head == "per_step" else (config.batch,)
  return x, rng.integers(0, config.classes, label_shape).astype(np.int32)


def build_keras_model(config, layer_classes):
  """The configuration as a keras.Model; layer_classes maps "lstm"/"gru" to the layer class to use."""
  import keras
  from models.pooling import MaskedPooling
  if config.features:
    inputs = keras.Input((config.time, config.features), batch_size=config.batch)
    x = inputs
  else:
    inputs = keras.Input((config.time,), batch_size=config.batch, dtype="int32")
    x = keras.layers.Embedding(config.vocabulary, config.embedding, mask_zero=config.mask)(inputs)
  for i in range(config.layers):
    last = i == config.layers - 1
    layer = layer_classes[config.cell](config.units, return_sequences=not (last and config.head == "last"))
    x = (keras.layers.Bidirectional(layer) if config.bidirectional else layer)(x)
  if config.head == "pooled":
    x = MaskedPooling("mean")(x)
  outputs = keras.layers.Dense(config.classes)(x)
  return keras.Model(inputs, outputs)


def keras_train_step(model):
  """A tf.function train step (forward, sparse cross-entropy, GradientTape, Adam)."""
  import keras
  import tensorflow as tf
  optimizer = keras.optimizers.Adam()
  optimizer.build(model.trainable_variables)
  loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

  @tf.function
  def step(x, y):
    with tf.GradientTape() as tape:
      loss = loss_fn(y, model(x, training=True))
    optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
    return loss

  return step


def torch_train_step(config):
  """The same configuration in PyTorch: a function running one Adam step."""
  import torch
  torch.set_flush_denormal(True)
  torch.set_num_threads(2)
  rnn_class = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[config.cell]
  width = config.units * (2 if config.bidirectional else 1)

  class Model(torch.nn.Module):
    def __init__(self):
      super().__init__()
      self.embedding = torch.nn.Embedding(config.vocabulary, config.embedding) if not config.features else None
      self.rnn = rnn_class(config.features or config.embedding, config.units, num_layers=config.layers,
                           batch_first=True, bidirectional=config.bidirectional)
      self.head = torch.nn.Linear(width, config.classes)

    def forward(self, x):
      x = self.embedding(x) if self.embedding is not None else x
      y, _ = self.rnn(x)
      y = {"last": lambda: y[:, -1], "per_step": lambda: y, "pooled": lambda: y.mean(dim=1)}[config.head]()
      return self.head(y)

  model = Model()
  optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
  x, y = (torch.from_numpy(a).long() if a.dtype.kind == "i" else torch.from_numpy(a) for a in make_data(config))

  def step():
    optimizer.zero_grad()
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, config.classes), y.reshape(-1))
    loss.backward()
    optimizer.step()

  return step


def examples_per_second(run_step, batch, seconds):
  """Runs whole steps for about `seconds`; examples per second of that window."""
  steps, start = 0, time.perf_counter()
  while True:
    run_step()
    steps += 1
    elapsed = time.perf_counter() - start
    if elapsed >= seconds:
      return steps * batch / elapsed


class TorchWorker:
  """PyTorch's step in a child process, one timed window per request.

  In one process with TensorFlow, PyTorch ran ~10x slower here (two thread pools, two OpenMP runtimes);
  in its own process it waits on a pipe while TensorFlow's windows run, and TensorFlow's pools are idle
  while it runs its own.
  """

  def __init__(self, config):
    import multiprocessing
    context = multiprocessing.get_context("spawn")
    self._connection, child = context.Pipe()
    self._process = context.Process(target=_torch_worker, args=(config, child), daemon=True)
    self._process.start()

  def window(self, seconds):
    self._connection.send(seconds)
    return self._connection.recv()

  def close(self):
    self._connection.send(None)
    self._process.join()


def _torch_worker(config, connection):
  run_step = torch_train_step(config)
  for _ in range(3):
    run_step()
  while (seconds := connection.recv()) is not None:
    connection.send(examples_per_second(run_step, config.batch, seconds))


def benchmark(config, *, windows, window_seconds, with_torch):
  """{implementation: [examples/s per window]} for one configuration, implementations taking turns."""
  import keras
  import tensorflow as tf
  from models import recurrent
  x, y = make_data(config)
  x, y = tf.constant(x), tf.constant(y)
  stock = build_keras_model(config, {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU})
  zoo = build_keras_model(config, {"lstm": recurrent.LSTM, "gru": recurrent.GRU})
  zoo.set_weights(stock.get_weights())
  windows_of = {}
  for name, model in (("keras", stock), ("zoo", zoo)):
    train_step = keras_train_step(model)
    for _ in range(3):  # trace, warm caches and allocators
      train_step(x, y).numpy()
    windows_of[name] = lambda seconds, train_step=train_step: examples_per_second(
        lambda: train_step(x, y).numpy(), config.batch, seconds)
  worker = TorchWorker(config) if with_torch else None
  if worker:
    windows_of["torch"] = worker.window
  results = {name: [] for name in windows_of}
  try:
    for _ in range(windows):
      for name, window in windows_of.items():
        results[name].append(window(window_seconds))
  finally:
    if worker:
      worker.close()
  return results


def _torch_available():
  try:
    import torch  # noqa: F401
    return True
  except ImportError:
    return False


def _cpu_name():
  try:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
      if line.startswith("model name"):
        return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return "unknown CPU"


def main(argv):
  del argv
  import tensorflow as tf
  from models import kernels
  with_torch = _TORCH.value and _torch_available()
  print(f"CPU: {_cpu_name()}, {os.cpu_count()} cores; TF {tf.__version__}; fused kernel available: "
        f"{kernels.available()}; torch: {'yes' if with_torch else 'no'}")
  print(f"median of {_WINDOWS.value} windows of ~{_WINDOW_SECONDS.value:g} s, training examples/s\n")
  header = f"{'config':<13} {'keras':>8} {'zoo':>8} {'torch':>8} {'zoo/keras':>10} {'zoo/torch':>10} {'keras/torch':>12}"
  print(header)
  print("-" * len(header))
  ratios = []
  for name in _CONFIGS.value:
    config = CONFIGS[name]
    results = benchmark(config, windows=_WINDOWS.value, window_seconds=_WINDOW_SECONDS.value,
                        with_torch=with_torch)
    median = {k: statistics.median(v) for k, v in results.items()}
    torch_median = median.get("torch")
    def ratio(a, b):
      return f"{a / b:.2f}x" if a and b else "-"
    print(f"{name:<13} {median['keras']:>8.0f} {median['zoo']:>8.0f} "
          f"{torch_median or float('nan'):>8.0f} {ratio(median['zoo'], median['keras']):>10} "
          f"{ratio(median['zoo'], torch_median):>10} {ratio(median['keras'], torch_median):>12}", flush=True)
    if torch_median:
      ratios.append(median["zoo"] / torch_median)
  if ratios:
    print(f"\nzoo/torch geometric mean: {statistics.geometric_mean(ratios):.2f}x, lowest {min(ratios):.2f}x")


if __name__ == "__main__":
  app.run(main)
