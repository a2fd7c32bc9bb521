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

import os
import statistics
import sys
from pathlib import Path

from absl import app, flags

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reference import (CONFIGS, TorchWorker, cpu_name, examples_per_second, make_data,  # noqa: E402
                                  torch_available)

_CONFIGS = flags.DEFINE_list("configs", "mnist,charlm,bilstm,bigru,stacked_lstm", "Which configurations to run.")
_WINDOWS = flags.DEFINE_integer("windows", 7, "Timed windows per implementation and configuration.")
_WINDOW_SECONDS = flags.DEFINE_float("window_seconds", 2.0, "Approximate length of one timed window.")
_TORCH = flags.DEFINE_bool("torch", True, "Also time PyTorch, when it is importable.")


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


def main(argv):
  del argv
  import tensorflow as tf
  from models import kernels
  with_torch = _TORCH.value and torch_available()
  print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; TF {tf.__version__}; fused kernel available: "
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
