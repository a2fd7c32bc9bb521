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
from models.recurrent import recurrent_layer
from models.topologies import many_to_many, many_to_one, seq2seq

NORMS = ("last", "revin", "revin_affine", "none")
DECODERS = ("dense", "pmf")
WEIGHT_INITS = ("keras", "torch")
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
  decoder: str = "dense"           # many_to_one: a Dense layer over the final state, or pmf (SegRNN's)
  embed_segments: bool = False     # Dense + ReLU from each segment to `units` features before the recurrence
  channel_embedding: bool = False  # pmf: the decoder also reads an embedding of the row's channel
  weight_init: str = "keras"       # pmf: Keras' initializers, or PyTorch's (see _initializers)


@keras.saving.register_keras_serializable("rnnzoo")
class RevIN(keras.layers.Layer):
  """Reversible instance normalisation (Kim et al., ICLR 2022): each window standardised per channel, with a
  learned per-channel scale and shift (affine); called again with inverse=True on the forecast, it undoes both."""

  def __init__(self, channels, **kwargs):
    super().__init__(**kwargs)
    self.channels = channels

  def build(self, input_shape):
    self.gamma = self.add_weight(name="gamma", shape=(self.channels,), initializer="ones")
    self.beta = self.add_weight(name="beta", shape=(self.channels,), initializer="zeros")

  def call(self, x, mean=None, std=None, inverse=False):
    if inverse:
      return (x - self.beta) / (self.gamma + _REVIN_EPSILON) * std + mean
    mean = keras.ops.mean(x, axis=1, keepdims=True)
    std = keras.ops.sqrt(keras.ops.var(x, axis=1, keepdims=True) + _REVIN_EPSILON)
    return (x - mean) / std * self.gamma + self.beta, mean, std

  def get_config(self):
    return {**super().get_config(), "channels": self.channels}


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


@keras.saving.register_keras_serializable("rnnzoo")
class SegmentQueries(keras.layers.Layer):
  """What each output segment's decoder step reads in SegRNN's PMF: a learned embedding of the segment's position,
  joined (with `channels`) to one of the row's channel, row r of [batch x channels] rows being channel r mod
  channels. rows [rows, ...] -> queries [rows x out_steps, units], a row's segments in order."""

  def __init__(self, out_steps, units, channels=None, **kwargs):
    super().__init__(**kwargs)
    self.out_steps, self.units, self.channels = out_steps, units, channels

  def build(self, input_shape):
    position_size = self.units // 2 if self.channels else self.units
    normal = keras.initializers.RandomNormal(stddev=1.0)   # as SegRNN's torch.randn
    self.position = self.add_weight(name="position", shape=(self.out_steps, position_size), initializer=normal)
    if self.channels:
      self.channel = self.add_weight(name="channel", shape=(self.channels, self.units - position_size),
                                     initializer=normal)

  def call(self, rows_like):
    rows = keras.ops.shape(rows_like)[0]
    queries = keras.ops.broadcast_to(self.position[None], (rows, *self.position.shape))
    if self.channels:
      channel = keras.ops.take(self.channel, keras.ops.arange(rows) % self.channels, axis=0)
      channel = keras.ops.broadcast_to(channel[:, None], (rows, self.out_steps, self.channel.shape[-1]))
      queries = keras.ops.concatenate([queries, channel], axis=-1)
    return keras.ops.reshape(queries, (-1, self.units))

  def get_config(self):
    return {**super().get_config(), "out_steps": self.out_steps, "units": self.units, "channels": self.channels}


def _initializers(window, fan_in, recurrent=False):
  """Initializer arguments of one layer. "keras": none (Glorot-uniform kernels, orthogonal recurrent kernels, zero
  biases). "torch": PyTorch's defaults, which SegRNN's published code trains from without naming them: every weight
  and bias uniform in +-1/sqrt(fan_in), where a recurrent layer's fan_in is its units (torch.nn.GRU, nn.Linear)."""
  if window.weight_init == "keras":
    return {}
  bound = 1.0 / math.sqrt(fan_in)
  names = ("kernel", "bias") + (("recurrent",) if recurrent else ())
  return {f"{name}_initializer": keras.initializers.RandomUniform(-bound, bound) for name in names}


def _pmf(segments, spec, window, out_steps, channels):
  """SegRNN's parallel multi-step forecasting (Lin et al. 2023): the encoder's cells, from their final states, step
  once for each output segment, all in parallel, reading that segment's position embedding (and, with
  channel_embedding, one of the row's channel); a Dense layer turns each step's output into the segment's values.
  [rows, steps, features] -> [rows, out_steps, segment_length * channels]."""
  layers, x, states = [], segments, []
  for i in range(spec.layers):
    if i > 0 and spec.dropout:
      x = keras.layers.Dropout(spec.dropout, name=f"pmf_dropout_{i}")(x)
    layer = recurrent_layer(spec.cell, spec.units, return_state=True, name=f"encoder_{spec.cell}_{i}",
                            **_initializers(window, spec.units, recurrent=True))
    x, *layer_states = layer(x)
    layers.append(layer)
    states.append(layer_states)
  # The queries are as wide as what the cells read: --units with embedded segments (SegRNN's), else a segment.
  step_inputs = SegmentQueries(out_steps, segments.shape[-1], window.channels if window.channel_embedding else None,
                               name="segment_queries")(segments)
  # Each encoder layer, called again on one step per (row, segment) from its final state: the same weights.
  output = step_inputs[:, None]
  for layer, layer_states in zip(layers, states):
    repeated = [keras.ops.reshape(keras.ops.repeat(s[:, None], out_steps, axis=1), (-1, spec.units))
                for s in layer_states]
    output = layer(output, initial_state=repeated)[0]
  output = output[:, 0]
  if spec.dropout:
    output = keras.layers.Dropout(spec.dropout, name="head_dropout")(output)
  values = keras.layers.Dense(window.segment_length * channels, name="head",
                              **_initializers(window, spec.units))(output)
  return keras.ops.reshape(values, (-1, out_steps, window.segment_length * channels))


def _recurrent_core(x, spec, topology, io, window):
  """[batch, input_length, c] -> [batch, horizon, c], reading segments."""
  segment, c = window.segment_length, x.shape[-1]
  pad = -window.input_length % segment   # a window that is not whole segments gets its first value repeated in front
  if pad:
    x = keras.ops.concatenate([keras.ops.repeat(x[:, :1], pad, axis=1), x], axis=1)
  steps, out_steps = (window.input_length + pad) // segment, math.ceil(window.horizon / segment)
  segments = keras.ops.reshape(x, (-1, steps, segment * c))
  if window.embed_segments:
    segments = keras.layers.Dense(spec.units, activation="relu", name="segment_embedding",
                                  **_initializers(window, segments.shape[-1]))(segments)
  core_io = dataclasses.replace(io, input_size=segments.shape[-1], sequence_length=steps, input_dropout=False,
                                window=None)
  if topology == "many_to_one" and window.decoder == "pmf":
    forecast = _pmf(segments, spec, window, out_steps, c)
  elif topology == "many_to_one":
    core = many_to_one.build(spec, dataclasses.replace(core_io, output_size=window.horizon * c))
    return keras.ops.reshape(core(segments), (-1, window.horizon, c))
  elif topology == "many_to_many":
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
  revin = RevIN(window.channels, name="revin") if window.norm == "revin_affine" else None
  if revin:
    x, mean, std = revin(inputs)
    shift = scale = None
  else:
    x, shift, scale = normalise(inputs, window.norm)
  if window.channel_independent:   # [batch, length, channels] -> [batch x channels, length, 1]
    x = keras.ops.reshape(keras.ops.transpose(x, (0, 2, 1)), (-1, window.input_length, 1))
  if spec.kind == "recurrent":
    forecast = _recurrent_core(x, spec, topology, io, window)
  else:
    forecast = baselines.BASELINES[spec.kind](x, window.horizon)
  if window.channel_independent:
    forecast = keras.ops.transpose(keras.ops.reshape(forecast, (-1, window.channels, window.horizon)), (0, 2, 1))
  if revin:
    forecast = revin(forecast, mean, std, inverse=True)
  if scale is not None:
    forecast = forecast * scale
  if shift is not None:
    forecast = forecast + shift
  outputs = keras.ops.take(forecast, list(window.targets), axis=2)
  return keras.Model(inputs, outputs, name=f"{spec.name}_{topology}_forecaster")
