"""The benchmark configurations (the shapes of the zoo's own runs), their synthetic data, and the PyTorch reference
step, shared by benchmarks/kernels.py (the layers alone) and benchmarks/throughput.py (the zoo's training step)."""

import dataclasses
import time
from pathlib import Path


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


def torch_available():
  try:
    import torch  # noqa: F401
    return True
  except ImportError:
    return False


def cpu_name():
  try:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
      if line.startswith("model name"):
        return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return "unknown CPU"
