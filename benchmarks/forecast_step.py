"""Where a forecaster's training step goes: the `segrnn` preset taken apart, one of SegRNN's choices at a time.

    python benchmarks/forecast_step.py                       # ETTm1's shapes at horizon 96, 5 windows of ~6 s each
    python benchmarks/forecast_step.py --horizon=192 --windows=7

Each variant is the forecaster train.py builds (models/forecaster.py) on random windows shaped like ETTm1's (7
channels, read channel-independently, segments of 48, the 720-step look-back, batch 256, dropout 0.5), trained by
Keras' own step (`train_on_batch`, no XLA: the fused kernels do not compile under XLA). The variants take turns
window by window, so that a noisy neighbour slows all of them alike; the table has each one's median s/step and its
recurrent MFLOP per channel-window (forward + backward), so that time can be set against arithmetic. Not a test.
"""

import dataclasses
import statistics
import sys
from pathlib import Path

from absl import app, flags

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reference import cpu_name, examples_per_second  # noqa: E402

_HORIZON = flags.DEFINE_integer("horizon", 96, "Forecast steps.")
_WINDOWS = flags.DEFINE_integer("windows", 5, "Timed windows per variant.")
_WINDOW_SECONDS = flags.DEFINE_float("window_seconds", 6.0, "Approximate length of one timed window.")

INPUT_LENGTH, CHANNELS, SEGMENT, BATCH = 720, 7, 48, 256

# (label, preset, units, window options): from the task's gru defaults to SegRNN's whole ETTm1 script.
VARIANTS = [
    ("gru, 256 units (the task defaults)", "gru", 256, {}),
    ("gru, 512 units", "gru", 512, {}),
    ("gru, 512 units, --decoder=pmf", "gru", 512, {"decoder": "pmf"}),
    ("gru, 512 units, --embed_segments", "gru", 512, {"embed_segments": True}),
    ("segrnn (512, embedded segments, pmf, channel embedding)", "segrnn", 512,
     {"decoder": "pmf", "embed_segments": True, "channel_embedding": True}),
]


def recurrent_mflops(units, window):
  """GRU multiply-adds x 2 for one channel-window: the encoder over the segments and PMF's decoder steps, forward,
  then backward (twice forward, less the gradient w.r.t. the inputs when they are the raw segments)."""
  features = units if window.embed_segments else SEGMENT
  encoder_steps = INPUT_LENGTH // SEGMENT
  decoder_steps = -(-window.horizon // SEGMENT) if window.decoder == "pmf" else 0
  gates = 3 * units
  forward = 2 * gates * (features + units)
  backward = 2 * forward - (0 if window.embed_segments else 2 * gates * features)
  return (encoder_steps + decoder_steps) * (forward + backward) / 1e6


def build_step(preset, units, options, horizon):
  import keras
  import numpy as np

  import models
  from models import forecaster

  window = forecaster.WindowSpec(INPUT_LENGTH, horizon, CHANNELS, tuple(range(CHANNELS)), segment_length=SEGMENT,
                                 **options)
  io = models.IOSpec("features", CHANNELS, CHANNELS, input_name="window", sequence_length=INPUT_LENGTH,
                     window=window)
  model = forecaster.build(dataclasses.replace(models.get(preset), units=units, dropout=0.5), "many_to_one", io)
  model.compile(optimizer=keras.optimizers.Adam(3e-4), loss="mse", jit_compile=False)
  rng = np.random.default_rng(0)
  x = rng.standard_normal([BATCH, INPUT_LENGTH, CHANNELS], np.float32)
  y = rng.standard_normal([BATCH, horizon, CHANNELS], np.float32)
  run_step = lambda: model.train_on_batch(x, y)  # noqa: E731
  for _ in range(2):
    run_step()
  return run_step, model.count_params(), recurrent_mflops(units, window)


def main(argv):
  del argv
  steps = {label: build_step(preset, units, options, _HORIZON.value) for label, preset, units, options in VARIANTS}
  seconds = {label: [] for label in steps}
  for _ in range(_WINDOWS.value):
    for label, (run_step, _, _) in steps.items():
      seconds[label].append(BATCH / examples_per_second(run_step, BATCH, _WINDOW_SECONDS.value))
  print(f"{cpu_name()}; ETTm1 shapes, horizon {_HORIZON.value}, batch {BATCH}; median of {_WINDOWS.value} windows")
  print("| model | params | s/step | MFLOP per channel-window | GFLOP/s |")
  print("|---|---|---|---|---|")
  for label, (_, params, mflops) in steps.items():
    median = statistics.median(seconds[label])
    gflops = mflops * BATCH * CHANNELS / median / 1e3
    print(f"| {label} | {params:,} | {median:.2f} | {mflops:.0f} | {gflops:.0f} |")


if __name__ == "__main__":
  app.run(main)
