"""The recurrent stack: cell (rnn | lstm | gru) x direction x depth.

Layers keep Keras defaults that make them cuDNN-eligible on a GPU (tanh/sigmoid activations,
no recurrent_dropout, unroll=False, GRU reset_after=True) and rely on right-padded masks.
"""

import keras

_LAYERS = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def recurrent_layer(cell, units, *, bidirectional=False, return_sequences=True, return_state=False, stateful=False,
                    name):
  layer = _LAYERS[cell](units, return_sequences=return_sequences, return_state=return_state, stateful=stateful,
                        name=name)
  if bidirectional:
    layer = keras.layers.Bidirectional(layer, name=f"bi{name}")
  return layer


def recurrent_stack(x, spec, *, return_sequences=True, stateful=False, name="recurrent"):
  """Applies `spec.layers` recurrent layers to x; dropout between them.

  stateful=True keeps each layer's final state as the next batch's initial state (truncated BPTT over
  consecutive windows); the input's batch size must then be fixed.

  With return_sequences=False the last layer returns its final output (for a bidirectional
  layer: the forward direction's last step joined with the backward direction's first step).
  """
  for i in range(spec.layers):
    last = i == spec.layers - 1
    if i > 0 and spec.dropout:
      x = keras.layers.Dropout(spec.dropout, name=f"{name}_dropout_{i}")(x)
    x = recurrent_layer(
        spec.cell, spec.units, bidirectional=spec.bidirectional,
        return_sequences=return_sequences or not last, stateful=stateful, name=f"{name}_{spec.cell}_{i}")(x)
  return x
