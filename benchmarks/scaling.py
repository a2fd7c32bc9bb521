"""How a training step's time grows with sequence length, units and batch size: the zoo's training step beside
PyTorch's, for an LSTM over embedded tokens (the IMDB-like configuration of benchmarks/reference.py), one
dimension varied at a time around steps 100, units 128, batch 64.

    python benchmarks/scaling.py          # writes benchmarks/scaling.json and docs/scaling.png

Same method as benchmarks/throughput.py (the zoo's Trainer step; PyTorch in a child process; turns taken window
by window; medians). A benchmark, never a test.
"""

import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

from absl import app, flags

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reference import CONFIGS, cpu_name  # noqa: E402
from benchmarks.zoo_step import side_by_side  # noqa: E402

_WINDOWS = flags.DEFINE_integer("windows", 3, "Timed windows per side and point.")
_WINDOW_SECONDS = flags.DEFINE_float("window_seconds", 2.0, "Approximate length of one timed window.")

BASE = dataclasses.replace(CONFIGS["stacked_lstm"], name="lstm", layers=1, time=100, units=128, batch=64)
SWEEPS = {"time": [25, 50, 100, 200, 400, 800], "units": [64, 128, 256, 512, 1024], "batch": [16, 32, 64, 128, 256]}
LABELS = {"time": "sequence length (steps)", "units": "units", "batch": "batch size"}


def step_milliseconds(config):
  """(zoo, torch) median milliseconds per training step."""
  zoo, torch = side_by_side(config, _WINDOWS.value, _WINDOW_SECONDS.value)
  zoo = [1000 * config.batch / speed for speed in zoo]
  torch = [1000 * config.batch / speed for speed in torch]
  return statistics.median(zoo), statistics.median(torch)


def main(argv):
  del argv
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  results = {}
  for field, values in SWEEPS.items():
    results[field] = []
    for value in values:
      zoo, torch = step_milliseconds(dataclasses.replace(BASE, **{field: value}))
      results[field].append({field: value, "zoo_ms": round(zoo, 2), "torch_ms": round(torch, 2)})
      print(f"{field}={value}: zoo {zoo:.1f} ms, torch {torch:.1f} ms, ratio {torch / zoo:.2f}x", flush=True)
  here = Path(__file__).resolve().parent
  with open(here / "scaling.json", "w", encoding="utf-8") as f:
    json.dump({"cpu": cpu_name(), "base": dataclasses.asdict(BASE), "sweeps": results,
               "measured": time.strftime("%Y-%m-%d %H:%M")}, f, indent=2)
  fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
  for ax, (field, points) in zip(axes, results.items()):
    xs = [p[field] for p in points]
    ax.plot(xs, [p["zoo_ms"] for p in points], marker="o", label="zoo (fused CPU kernel)")
    ax.plot(xs, [p["torch_ms"] for p in points], marker="s", label="PyTorch 2.13")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(LABELS[field])
    ax.set_ylabel("ms per training step")
    others = ", ".join(f"{k} {getattr(BASE, k)}" for k in SWEEPS if k != field)
    ax.set_title(f"LSTM, {others}", fontsize=9)
    ax.legend(fontsize=8)
  fig.suptitle(f"Training step time on {cpu_name()} (2 cores)", fontsize=10)
  fig.tight_layout()
  fig.savefig(here.parent / "docs" / "scaling.png", dpi=110)
  print("wrote benchmarks/scaling.json and docs/scaling.png")


if __name__ == "__main__":
  app.run(main)
