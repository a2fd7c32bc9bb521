"""Many-to-one: read a whole sequence, emit one output (classification, a forecast vector)."""

import keras

from models.inputs import input_and_features
from models.pooling import pool
from models.recurrent import recurrent_stack


def build(spec, io):
  inputs, x = input_and_features(spec, io)
  summarize_by_last_state = spec.pooling == "last"
  x = recurrent_stack(x, spec, return_sequences=not summarize_by_last_state)
  if not summarize_by_last_state:
    x = pool(x, spec.pooling)
  if spec.dropout:
    x = keras.layers.Dropout(spec.dropout, name="head_dropout")(x)
  outputs = keras.layers.Dense(io.output_size, name="head")(x)
  return keras.Model(inputs, outputs, name=f"{spec.name}_many_to_one")
