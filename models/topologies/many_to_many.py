"""Many-to-many, synced: one output per input step (tagging, next-step prediction).

`Generator` runs a trained causal model one step at a time, for generation loops inside the graph
(each chosen id fed back as the next input).
"""

import keras
import tensorflow as tf

from models import crf
from models.inputs import input_and_features
from models.recurrent import recurrent_stack
from models.sampled_softmax import SampledSoftmax
from models.stepping import Stepper

NEXT_IDS = "next_ids"   # with IOSpec.sampled_softmax: the ids whose log-probabilities the model outputs


def build(spec, io):
  """A synced many-to-many model: inputs [batch, steps(, features)] -> outputs [batch, steps, io.output_size].

  Args:
    spec: a ModelSpec (cell, units, layers, direction, dropout, embedding size); with head "crf" the outputs are a
      linear-chain CRF's {"emissions", "transitions"} (models/crf.py), with char_units > 0 (and an IOSpec with
      char_vocab) the model also reads each word's characters ("char_ids" [batch, words, chars]).
      With IOSpec.sampled_softmax set, the model also takes "next_ids" [batch, steps] and outputs their
      log-probabilities [batch, steps] (a word-level language model; models/sampled_softmax.py).
    io: the task's IOSpec: token ids (masked, 0 = padding) or float features per step; `stateful_batch` makes the
      recurrent layers carry their state from one batch to the next (truncated BPTT) at that fixed batch size.

  Example:
  >>> import models, numpy as np
  >>> from models.topologies import many_to_many
  >>> model = many_to_many.build(models.get("lstm"), models.IOSpec("tokens", input_size=30, output_size=30))
  >>> model(np.array([[4, 5, 6, 0]])).shape
  TensorShape([1, 4, 30])
  """
  inputs, x = input_and_features(spec, io)
  x = recurrent_stack(x, spec, return_sequences=True, stateful=io.stateful_batch is not None)
  if spec.dropout:
    x = keras.layers.Dropout(spec.dropout, name="head_dropout")(x)
  if io.sampled_softmax is not None:   # log-probabilities of the ids the model is given to predict
    next_ids = keras.Input(shape=(io.sequence_length,), batch_size=io.stateful_batch, dtype="int32", name=NEXT_IDS)
    outputs = SampledSoftmax(io.output_size, io.sampled_softmax, name="head")([x, next_ids])
    inputs = {**(inputs if isinstance(inputs, dict) else {io.input_name: inputs}), NEXT_IDS: next_ids}
    return keras.Model(inputs, outputs, name=f"{spec.name}_many_to_many")
  outputs = keras.layers.Dense(io.output_size, name="head")(x)
  if spec.head == "crf":   # the scores become a CRF's emissions: {"emissions", "transitions"} (models/crf.py)
    outputs = crf.CRF(io.output_size, name="crf")(outputs)
  return keras.Model(inputs, outputs, name=f"{spec.name}_many_to_many")


class Generator:
  """A trained causal many_to_many model, one step at a time (dropout off), with the model's own weights:

      generator = Generator(model)
      states = generator.start(batch_size)
      logits, states = generator.step(ids, states)      # ids [batch] (or features [batch, size]) -> [batch, out]

  Only unidirectional models can be stepped (a bidirectional one reads the future).
  """

  def __init__(self, model):
    layers = {layer.name: layer for layer in model.layers}
    self._stepper = Stepper(model)
    # ids -> embedding rows, without the padding mask a cell would warn about (stepping has no padding)
    self._embeddings = layers["embedding"].embeddings if "embedding" in layers else None
    self._head = layers["head"]

  def start(self, batch_size):
    return self._stepper.initial_states(batch_size)

  def step(self, inputs, states):
    x = tf.gather(self._embeddings, inputs) if self._embeddings is not None else inputs
    output, states = self._stepper(x, states)
    return (self._head.logits(output) if isinstance(self._head, SampledSoftmax) else self._head(output)), states
