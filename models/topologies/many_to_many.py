"""Many-to-many, synced: one output per input step (tagging, next-step prediction)."""

import keras

from models.inputs import input_and_features
from models.recurrent import recurrent_stack


def build(spec, io):
  inputs, x = input_and_features(spec, io)
  x = recurrent_stack(x, spec, return_sequences=True, stateful=io.stateful_batch is not None)
  if spec.dropout:
    x = keras.layers.Dropout(spec.dropout, name="head_dropout")(x)
  outputs = keras.layers.Dense(io.output_size, name="head")(x)
  return keras.Model(inputs, outputs, name=f"{spec.name}_many_to_many")
