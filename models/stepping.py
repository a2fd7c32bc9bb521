"""Running a trained recurrent stack one time step at a time, for generation loops inside the graph.

A generation loop (sampling characters, drawing rows) feeds each output back as the next input,
so it cannot call the model on a whole sequence. It steps the cells of the model's recurrent
layers instead: the same weights, in the same order, with dropout off. Only causal
(unidirectional) stacks can be stepped.
"""

import keras
import tensorflow as tf


class Stepper:
  """Steps a model's recurrent layers (a keras.Model), or the given ones (a list of keras.layers.RNN)."""

  def __init__(self, model_or_layers):
    layers = model_or_layers if isinstance(model_or_layers, list) else model_or_layers.layers
    if any(isinstance(layer, keras.layers.Bidirectional) for layer in layers):
      raise ValueError("a bidirectional layer cannot be stepped; only a unidirectional stack can")
    self.cells = [layer.cell for layer in layers if isinstance(layer, keras.layers.RNN)]
    if not self.cells:
      raise ValueError("no recurrent layer to step")

  def initial_states(self, batch_size):
    """Zero states: per layer, a list of [batch, size] tensors (two for an LSTM)."""
    return [[tf.zeros([batch_size, size]) for size in _as_list(cell.state_size)] for cell in self.cells]

  def __call__(self, x, states):
    """One step through every layer: x [batch, features] -> (top layer output, new states)."""
    new_states = []
    for cell, state in zip(self.cells, states):
      x, state = cell(x, state, training=False)
      new_states.append(list(_as_list(state)))
    return x, new_states


def _as_list(value):
  return value if isinstance(value, (list, tuple)) else [value]
