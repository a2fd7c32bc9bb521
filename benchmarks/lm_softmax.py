"""The word-level language model's training speed with the sampled softmax against the exact one, side by side.

    python benchmarks/lm_softmax.py --data_dir=../shared/tfds [--samples=1024,0] [--windows=4 --seconds=20]

Each configuration is the language_model task's own training step (engine/loop.py's Trainer, the task's defaults:
lstm, 512 units, 256-wide embeddings, batch 32) on IMDB's training reviews; the configurations take turns window by
window, so a noisy neighbour slows all alike. Prints predicted words per second of each (steps per second x the mean predicted words of a training batch over
an epoch) and their ratio.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import quiet  # noqa: E402

quiet.import_tensorflow()

import tensorflow as tf  # noqa: E402

import models  # noqa: E402
import tasks  # noqa: E402
from engine import config  # noqa: E402
from engine.loop import Trainer  # noqa: E402
from engine.run_dir import RunDir  # noqa: E402
from tasks.base import DataConfig  # noqa: E402


def trainer_of(samples, data_dir, vocabulary_dir):
  """The Trainer train.py builds for the task's defaults with `samples` candidates, and an endless iterator of its
  training batches."""
  resolved = config.resolve("language_model", "lstm", data=DataConfig(data_dir=data_dir),
                            options={"sampled_softmax": samples})
  task = tasks.create(resolved)
  model = models.build(resolved.model, resolved.topology, task.prepare(vocabulary_dir, resolved.training.batch_size))
  trainer = Trainer(model, task, resolved, RunDir(tempfile.mkdtemp(prefix="rnnzoo-bench-")))
  iterator = iter(task.dataset("train", resolved.training.batch_size, shuffle_seed=0).repeat())
  trainer._train_steps(iterator, tf.constant(2, tf.int64))   # traced and warm before timing
  return trainer, iterator


def words_per_batch(task, batch_size):
  """The mean predicted words of a training batch, over a whole epoch's batches."""
  words = batches = 0
  for _, targets in task.dataset("train", batch_size, shuffle_seed=0):
    words += int(tf.reduce_sum(tf.cast(targets > 0, tf.int32)))
    batches += 1
  return words / batches


def steps_per_second(trainer, iterator, seconds, steps_per_call=5):
  """Whole graph calls of `steps_per_call` steps for about `seconds`: training steps per second."""
  steps, started = 0, time.perf_counter()
  while time.perf_counter() - started < seconds:
    steps += int(trainer._train_steps(iterator, tf.constant(steps_per_call, tf.int64))[0])
  return steps / (time.perf_counter() - started)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data_dir", required=True)
  parser.add_argument("--samples", default="1024,0", help="candidates of each configuration (0: exact softmax)")
  parser.add_argument("--windows", type=int, default=4)
  parser.add_argument("--seconds", type=float, default=20)
  args = parser.parse_args()
  vocabulary_dir = tempfile.mkdtemp(prefix="rnnzoo-bench-vocabulary-")
  configurations = {int(s): trainer_of(int(s), args.data_dir, vocabulary_dir) for s in args.samples.split(",")}
  first = next(iter(configurations.values()))[0]
  per_batch = words_per_batch(first.task, first.config.training.batch_size)
  speeds = {s: [] for s in configurations}
  for _ in range(args.windows):
    for samples, (trainer, iterator) in configurations.items():
      speeds[samples].append(round(per_batch * steps_per_second(trainer, iterator, args.seconds)))
  best = {s: max(v) for s, v in speeds.items()}
  result = {"cpu": _cpu(), "words_per_batch": round(per_batch, 1), "words_per_second": speeds, "best": best,
            "ratio_to_exact": {s: best[s] / best[0] for s in best if 0 in best}}
  print(json.dumps(result, indent=2))


def _cpu():
  from engine import provenance
  return provenance.environment().get("cpu")


if __name__ == "__main__":
  main()
