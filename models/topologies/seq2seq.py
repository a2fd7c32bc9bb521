"""Sequence to sequence: an encoder reads the input, a decoder of the same cell writes the output.

The encoder's final states start the decoder, layer by layer; a bidirectional encoder's two
directions are joined, so its decoder has twice the units. The decoder reads a token sequence of
its own (ids > 0, 0 = padding): the previous target tokens (teacher forcing), or, for forecasting,
the position of each output step, so that every step is decoded from the encoder's summary at once
(SegRNN's parallel multi-step forecasting).

With attention, each decoder output is joined with a context vector over the encoder's outputs and
mixed by a tanh layer (Luong et al. 2015's placement), scored additively (Bahdanau et al. 2015) or
multiplicatively (Luong's "general" score).
"""

import keras

from models.inputs import input_and_features
from models.recurrent import recurrent_layer

DECODER_INPUT = "decoder_inputs"


def encode(x, spec):
  """(outputs [batch, steps, units x directions], the final states of each layer, directions joined)."""
  states = []
  for i in range(spec.layers):
    if i > 0 and spec.dropout:
      x = keras.layers.Dropout(spec.dropout, name=f"encoder_dropout_{i}")(x)
    x, *layer_states = recurrent_layer(spec.cell, spec.units, bidirectional=spec.bidirectional, return_state=True,
                                       name=f"encoder_{spec.cell}_{i}")(x)
    if spec.bidirectional:
      half = len(layer_states) // 2
      layer_states = [keras.layers.Concatenate(name=f"encoder_{i}_state_{j}")([forward, backward])
                      for j, (forward, backward) in enumerate(zip(layer_states[:half], layer_states[half:]))]
    states.append(layer_states)
  return x, states


def attend(decoded, encoded, spec, units):
  if spec.attention == "additive":
    query = keras.layers.Dense(units, use_bias=False, name="attention_query")(decoded)
    key = keras.layers.Dense(units, use_bias=False, name="attention_key")(encoded)
    context = keras.layers.AdditiveAttention(name="attention")([query, encoded, key])
  else:
    query = keras.layers.Dense(units, use_bias=False, name="attention_query")(decoded)
    context = keras.layers.Attention(name="attention")([query, encoded])
  joined = keras.layers.Concatenate(name="decoded_and_context")([decoded, context])
  return keras.layers.Dense(units, activation="tanh", name="attentional")(joined)


def build(spec, io):
  if io.decoder_vocab is None:
    raise ValueError("seq2seq needs an IOSpec with decoder_vocab (and decoder_length)")
  inputs, x = input_and_features(spec, io)
  encoded, states = encode(x, spec)
  decoder_inputs = keras.Input(shape=(io.decoder_length,), dtype="int32", name=DECODER_INPUT)
  y = keras.layers.Embedding(io.decoder_vocab, spec.embedding_dim, mask_zero=True,
                             name="decoder_embedding")(decoder_inputs)
  units = spec.units * (2 if spec.bidirectional else 1)
  for i in range(spec.layers):
    if i > 0 and spec.dropout:
      y = keras.layers.Dropout(spec.dropout, name=f"decoder_dropout_{i}")(y)
    y = recurrent_layer(spec.cell, units, name=f"decoder_{spec.cell}_{i}")(y, initial_state=states[i])
  if spec.attention != "none":
    y = attend(y, encoded, spec, units)
  if spec.dropout:
    y = keras.layers.Dropout(spec.dropout, name="head_dropout")(y)
  outputs = keras.layers.Dense(io.output_size, name="head")(y)
  return keras.Model({io.input_name: inputs, DECODER_INPUT: decoder_inputs}, outputs, name=f"{spec.name}_seq2seq")
