"""One-to-many: one input (a class label) unrolled into a sequence, each output fed back as the next input.

Training uses teacher forcing: step t reads the true step t-1 (zeros at t=0) next to the label's
embedding, and predicts step t. Generation (models/stepping.py) feeds its own outputs back instead.
"""

import keras

from models.recurrent import recurrent_stack


def build(spec, io):
  if io.condition_classes is None or io.sequence_length is None:
    raise ValueError("one_to_many needs an IOSpec with condition_classes and a fixed sequence_length")
  label = keras.Input(shape=(), dtype="int32", name="label")
  previous = keras.Input(shape=(io.sequence_length, io.input_size), dtype="float32", name=io.input_name)
  condition = keras.layers.Embedding(io.condition_classes, spec.embedding_dim, name="condition")(label)
  condition = keras.layers.RepeatVector(io.sequence_length, name="condition_every_step")(condition)
  x = keras.layers.Concatenate(name="step_inputs")([condition, previous])
  x = recurrent_stack(x, spec, return_sequences=True)
  if spec.dropout:
    x = keras.layers.Dropout(spec.dropout, name="head_dropout")(x)
  outputs = keras.layers.Dense(io.output_size, name="head")(x)
  return keras.Model({"label": label, io.input_name: previous}, outputs, name=f"{spec.name}_one_to_many")
