"""Translation's training batches of like-length pairs beside random ones: how much padding each computes, and the
training speed of train.py's own step (the Trainer's graph calls) over each, on the task's real data.

    python benchmarks/length_buckets.py --manual_dir=../shared/datasets/multi30k [--model=bigru_attention]
        [--windows=4] [--steps=30]

The two take turns window by window, so a noisy neighbour slows both alike; medians of pairs per second. Same model,
same weights carried on from window to window (the speed of a step does not depend on what it has learnt). A
benchmark, never a test.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import quiet  # noqa: E402

quiet.import_tensorflow()

import tensorflow as tf  # noqa: E402

from benchmarks.reference import cpu_name  # noqa: E402
from engine import api  # noqa: E402
from engine.loop import Trainer  # noqa: E402
from engine.run_dir import RunDir  # noqa: E402
from tasks.base import DataConfig  # noqa: E402
from tasks.translation import BUCKETS, SOURCE  # noqa: E402


def padding(batches):
  """Units the batches compute (rows x the longest source, plus rows x the longest target) per real unit."""
  computed = real = 0
  for inputs, targets in batches:
    source, target = inputs[SOURCE] != 0, targets != 0
    computed += int(tf.size(source)) + int(tf.size(target))
    real += int(tf.reduce_sum(tf.cast(source, tf.int32))) + int(tf.reduce_sum(tf.cast(target, tf.int32)))
  return computed / real


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--manual_dir")
  parser.add_argument("--data_dir")
  parser.add_argument("--model", default="bigru_attention")
  parser.add_argument("--windows", type=int, default=4)
  parser.add_argument("--steps", type=int, default=30, help="training steps a window")
  args = parser.parse_args()
  built = api.build("translation", args.model, data=DataConfig(data_dir=args.data_dir, manual_dir=args.manual_dir))
  task, batch_size = built.task, built.config.training.batch_size
  pairs = len(task._split_pairs("train")[0])
  ways = {"like lengths (the task's)": task.dataset("train", batch_size, shuffle_seed=0),
          "random": task._examples("train").shuffle(pairs, seed=0).padded_batch(batch_size)}
  print(f"{args.model}, batch {batch_size}, {pairs} training pairs; {cpu_name()}")
  print(f"  pairs a batch in the buckets up to {', '.join(map(str, BUCKETS))} units and beyond: "
        f"{task._bucket_batch_sizes(batch_size)}")
  for name, batches in ways.items():
    print(f"  {name}: {padding(batches):.2f} units computed per real unit")

  trainer = Trainer(built.model, task, built.config, RunDir(tempfile.mkdtemp(prefix="rnnzoo-bench-")))
  iterators = {name: iter(batches.repeat()) for name, batches in ways.items()}
  steps = tf.constant(args.steps, tf.int64)
  for iterator in iterators.values():   # traced and warm before timing
    trainer._train_steps(iterator, tf.constant(3, tf.int64))
  speeds = {name: [] for name in ways}
  for _ in range(args.windows):
    for name, iterator in iterators.items():
      started = time.perf_counter()
      examples = int(trainer._train_steps(iterator, steps)[2])
      speeds[name].append(examples / (time.perf_counter() - started))
  medians = {name: statistics.median(values) for name, values in speeds.items()}
  for name, values in speeds.items():
    print(f"  {name}: {medians[name]:.1f} pairs/s (windows: {', '.join(f'{v:.1f}' for v in values)})")
  like, random = medians.values()
  print(f"  ratio: {like / random:.2f}x")


if __name__ == "__main__":
  main()
