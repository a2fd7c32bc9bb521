"""One-to-many: one input (a class label) unrolled into a sequence, each output fed back as the next input.

Training uses teacher forcing: step t reads the true step t-1 (zeros at t=0) next to the label's
embedding, and predicts step t. Generation (`Generator`) feeds its own outputs back instead.
"""

import keras
import tensorflow as tf

from models.recurrent import recurrent_stack
from models.stepping import Stepper


def build(spec, io):
  """A one-to-many model: {"label": [batch], io.input_name: previous steps [batch, steps, features]} -> logits of
  each step [batch, steps, io.output_size].

  Args:
    spec: a ModelSpec (a unidirectional one, to generate with).
    io: the task's IOSpec with `condition_classes` (how many labels) and a fixed `sequence_length`.

  Example:
  >>> import models, numpy as np
  >>> from models.topologies import one_to_many
  >>> io = models.IOSpec("features", 28, 28, input_name="previous_rows", sequence_length=28, condition_classes=10)
  >>> model = one_to_many.build(models.get("lstm"), io)
  >>> model({"label": np.array([3]), "previous_rows": np.zeros([1, 28, 28])}).shape
  TensorShape([1, 28, 28])
  """
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


class Generator:
  """A trained one_to_many model, one step at a time (dropout off):

      generator = Generator(model)
      memory, states = generator.start(labels)                 # labels [batch]
      logits, states = generator.step(previous, states, memory)   # previous step [batch, features]
  """

  def __init__(self, model):
    self._stepper = Stepper(model)
    self._conditions = model.get_layer("condition").embeddings
    self._head = model.get_layer("head")

  def start(self, labels):
    return tf.gather(self._conditions, labels), self._stepper.initial_states(tf.shape(labels)[0])

  def step(self, previous, states, memory):
    output, states = self._stepper(tf.concat([memory, previous], axis=-1), states)
    return self._head(output), states
