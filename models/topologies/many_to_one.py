"""Many-to-one: read a whole sequence, emit one output (classification, a forecast vector)."""

import keras

from models.inputs import input_and_features
from models.pooling import pool
from models.recurrent import recurrent_stack


def build(spec, io):
  """A many-to-one model: inputs [batch, steps(, features)] -> outputs [batch, io.output_size].

  Args:
    spec: a ModelSpec; `spec.pooling` says how the sequence becomes one vector: "last" (the final state; for a
      bidirectional layer each direction's last step), or masked "max", "mean", "max_mean", "attention".
    io: the task's IOSpec: token ids (masked, 0 = padding) or float features per step.

  Example:
  >>> import dataclasses, models, numpy as np
  >>> from models.topologies import many_to_one
  >>> spec = dataclasses.replace(models.get("bigru"), pooling="max_mean")
  >>> model = many_to_one.build(spec, models.IOSpec("tokens", input_size=50, output_size=2))
  >>> model(np.array([[7, 8, 9, 0, 0]])).shape
  TensorShape([1, 2])
  """
  inputs, x = input_and_features(spec, io)
  summarize_by_last_state = spec.pooling == "last"
  x = recurrent_stack(x, spec, return_sequences=not summarize_by_last_state)
  if not summarize_by_last_state:
    x = pool(x, spec.pooling)
  if spec.dropout:
    x = keras.layers.Dropout(spec.dropout, name="head_dropout")(x)
  outputs = keras.layers.Dense(io.output_size, name="head")(x)
  return keras.Model(inputs, outputs, name=f"{spec.name}_many_to_one")
