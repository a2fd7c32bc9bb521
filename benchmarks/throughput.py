"""Training throughput of the zoo's real training step against PyTorch, side by side on this machine.

    pip install -r requirements-bench.txt      # torch==2.13.0, the CPU build
    python benchmarks/throughput.py            # the five configurations; writes benchmarks/results.json
    python benchmarks/throughput.py --configs=mnist --windows=9

For each configuration (benchmarks/reference.py: CONFIGS, the shapes of the zoo's own runs) the zoo side is what
train.py runs: the preset's model from `models.build` for an IOSpec shaped like the task's, trained by
`engine.loop.Trainer._train_steps` (several steps per graph call, Adam with the zoo's gradient clipping, the task
metric updated every step) on fixed synthetic batches. The PyTorch side is the same shapes with torch.nn.LSTM/GRU
(oneDNN's fused RNN primitives), Adam, flush-to-zero on and the same thread count, in a child process (in one
process with TensorFlow it ran ~10x slower). The two take turns, window by window, so a noisy neighbour slows
both alike; each figure is the median of its windows. GFLOP/s counts the recurrent layers' multiply-adds
(forward, and twice that backward) over a measured float32 matmul peak of this machine (TF's MatMul, n=2048).
Timing is never a test assertion; this is a benchmark.
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

from absl import app, flags

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reference import CONFIGS, cpu_name, torch_available  # noqa: E402
from benchmarks.zoo_step import matmul_peak_gflops, recurrent_flops_per_example, side_by_side  # noqa: E402

_CONFIGS = flags.DEFINE_list("configs", list(CONFIGS), "Which configurations to run.")
_WINDOWS = flags.DEFINE_integer("windows", 5, "Timed windows per side and configuration.")
_WINDOW_SECONDS = flags.DEFINE_float("window_seconds", 4.0, "Approximate length of one timed window.")
_OUTPUT = flags.DEFINE_string("output", str(Path(__file__).parent / "results.json"), "Where the figures go.")


def main(argv):
  del argv
  import tensorflow as tf

  from models import kernels
  if not torch_available():
    sys.exit("error: PyTorch is not installed; pip install -r requirements-bench.txt")
  peak = matmul_peak_gflops()
  machine = {"cpu": cpu_name(), "cores": os.cpu_count(), "tensorflow": tf.__version__,
             "fused_kernel": kernels.available(), "matmul_peak_gflops": round(peak, 1)}
  print(f"CPU: {machine['cpu']}, {machine['cores']} cores; TF {tf.__version__}; fused kernel: "
        f"{machine['fused_kernel']}; float32 matmul peak {peak:.0f} GFLOP/s")
  print(f"training examples/s, median of {_WINDOWS.value} windows of ~{_WINDOW_SECONDS.value:g} s each side\n")
  header = (f"{'config':<13} {'zoo':>8} {'torch':>8} {'ratio':>7} {'zoo GFLOP/s':>12} {'% peak':>7} "
            f"{'torch GFLOP/s':>14}")
  print(header)
  print("-" * len(header))
  results = {}
  for name in _CONFIGS.value:
    config = CONFIGS[name]
    zoo, torch = side_by_side(config, _WINDOWS.value, _WINDOW_SECONDS.value)
    zoo_speed, torch_speed = statistics.median(zoo), statistics.median(torch)
    flops = recurrent_flops_per_example(config)
    results[name] = {"description": config.description, "zoo_examples_per_second": round(zoo_speed, 1),
                     "torch_examples_per_second": round(torch_speed, 1), "ratio": round(zoo_speed / torch_speed, 3),
                     "zoo_gflops": round(zoo_speed * flops / 1e9, 1), "torch_gflops": round(torch_speed * flops / 1e9, 1),
                     "zoo_windows": [round(v, 1) for v in zoo], "torch_windows": [round(v, 1) for v in torch]}
    r = results[name]
    print(f"{name:<13} {zoo_speed:>8.0f} {torch_speed:>8.0f} {r['ratio']:>6.2f}x {r['zoo_gflops']:>12.1f} "
          f"{100 * r['zoo_gflops'] / peak:>6.0f}% {r['torch_gflops']:>14.1f}", flush=True)
  ratios = [r["ratio"] for r in results.values()]
  summary = {"geometric_mean_ratio": round(statistics.geometric_mean(ratios), 3), "lowest_ratio": min(ratios)}
  print(f"\nzoo/torch geometric mean {summary['geometric_mean_ratio']:.2f}x, lowest {summary['lowest_ratio']:.2f}x")
  with open(_OUTPUT.value, "w", encoding="utf-8") as f:
    json.dump({"machine": machine, "configs": results, **summary,
               "measured": time.strftime("%Y-%m-%d %H:%M")}, f, indent=2)
  print(f"wrote {_OUTPUT.value}")


if __name__ == "__main__":
  app.run(main)
