"""A forecaster around any preset: windows [batch, input_length, channels] -> [batch, horizon, targets].

What makes recurrent networks competitive on long-horizon benchmarks (SegRNN, Lin et al. 2023), as
options of the task (WindowSpec):
- per-window normalisation: subtract each window's last value (NLinear), or standardise each
  window per channel (RevIN without its learned affine); undone on the forecast;
- channel independence: every channel is its own series, all read by the same weights;
- segments: the window is read segment_length steps at a time (336 steps -> 7 recurrent steps of 48).

The recurrent core is a zoo topology over the segments:
- many_to_one: the encoder's summary -> every horizon step at once;
- many_to_many: the next segment at each step, rolled forward (each forecast segment read back in);
- seq2seq: the encoder's final state starts a decoder that reads the position of each output segment.
The baselines (models/baselines.py) read the normalised window directly.
"""

import dataclasses
import math

import keras

from models import baselines
from models.topologies import many_to_many, many_to_one, seq2seq

NORMS = ("last", "revin", "none")
_REVIN_EPSILON = 1e-5


@dataclasses.dataclass(frozen=True)
class WindowSpec:
  input_length: int
  horizon: int
  channels: int
  targets: tuple           # indices of the channels forecast
  segment_length: int = 1
  norm: str = "last"
  channel_independent: bool = True


def normalise(x, norm):
  """(normalised x, shift, scale), per window and channel."""
  if norm == "last":
    shift = x[:, -1:, :]
    return x - shift, shift, None
  if norm == "revin":
    shift = keras.ops.mean(x, axis=1, keepdims=True)
    scale = keras.ops.sqrt(keras.ops.var(x, axis=1, keepdims=True) + _REVIN_EPSILON)
    return (x - shift) / scale, shift, scale
  return x, None, None


def _recurrent_core(x, spec, topology, io, window):
  """[batch, input_length, c] -> [batch, horizon, c], reading segments."""
  segment, c = window.segment_length, x.shape[-1]
  pad = -window.input_length % segment   # a window that is not whole segments gets its first value repeated in front
  if pad:
    x = keras.ops.concatenate([keras.ops.repeat(x[:, :1], pad, axis=1), x], axis=1)
  steps, out_steps = (window.input_length + pad) // segment, math.ceil(window.horizon / segment)
  segments = keras.ops.reshape(x, (-1, steps, segment * c))
  core_io = dataclasses.replace(io, input_size=segment * c, sequence_length=steps, input_dropout=False, window=None)
  if topology == "many_to_one":
    core = many_to_one.build(spec, dataclasses.replace(core_io, output_size=window.horizon * c))
    return keras.ops.reshape(core(segments), (-1, window.horizon, c))
  if topology == "many_to_many":
    core = many_to_many.build(spec, dataclasses.replace(core_io, output_size=segment * c, sequence_length=None))
    read = segments
    for _ in range(out_steps):
      read = keras.ops.concatenate([read, core(read)[:, -1:]], axis=1)
    forecast = read[:, steps:]
  elif topology == "seq2seq":
    core = seq2seq.build(spec, dataclasses.replace(core_io, output_size=segment * c, decoder_vocab=out_steps + 1,
                                                   decoder_length=out_steps))
    positions = keras.ops.ones_like(segments[:, :1, 0], dtype="int32") * keras.ops.arange(1, out_steps + 1)
    forecast = core({io.input_name: segments, seq2seq.DECODER_INPUT: positions})
  else:
    raise ValueError(f"forecasting has no topology {topology!r}")
  return keras.ops.reshape(forecast, (-1, out_steps * segment, c))[:, :window.horizon]


def build(spec, topology, io):
  """A forecaster: raw-scale windows [batch, input_length, channels] -> forecasts [batch, horizon, targets].

  Args:
    spec: a recurrent ModelSpec (its core reads segments through `topology`) or a baseline (naive, linear).
    topology: many_to_one, many_to_many or seq2seq (see the module docstring).
    io: an IOSpec whose `window` (WindowSpec) gives the lengths, channels, targets, segments and normalisation.

  Example:
  >>> import models, numpy as np
  >>> from models import forecaster
  >>> window = forecaster.WindowSpec(input_length=96, horizon=24, channels=7, targets=tuple(range(7)),
  ...                                segment_length=24)
  >>> io = models.IOSpec("features", 7, 7, input_name="window", sequence_length=96, window=window)
  >>> model = forecaster.build(models.get("gru"), "many_to_one", io)
  >>> model(np.zeros([2, 96, 7], np.float32)).shape
  TensorShape([2, 24, 7])
  """
  window = io.window
  inputs = keras.Input(shape=(window.input_length, window.channels), dtype="float32", name=io.input_name)
  x, shift, scale = normalise(inputs, window.norm)
  if window.channel_independent:   # [batch, length, channels] -> [batch x channels, length, 1]
    x = keras.ops.reshape(keras.ops.transpose(x, (0, 2, 1)), (-1, window.input_length, 1))
  if spec.kind == "recurrent":
    forecast = _recurrent_core(x, spec, topology, io, window)
  else:
    forecast = baselines.BASELINES[spec.kind](x, window.horizon)
  if window.channel_independent:
    forecast = keras.ops.transpose(keras.ops.reshape(forecast, (-1, window.channels, window.horizon)), (0, 2, 1))
  if scale is not None:
    forecast = forecast * scale
  if shift is not None:
    forecast = forecast + shift
  outputs = keras.ops.take(forecast, list(window.targets), axis=2)
  return keras.Model(inputs, outputs, name=f"{spec.name}_{topology}_forecaster")
