"""The recurrent stack: cell (rnn | lstm | gru) x direction x depth.

Layers keep Keras defaults that make them cuDNN-eligible on a GPU (tanh/sigmoid activations,
no recurrent_dropout, unroll=False, GRU reset_after=True) and rely on right-padded masks.

The layers are Keras' own with one change: on CPU they run the whole sequence (and its backward pass) in one
fused op of models/kernels instead of Keras' generic tf.while_loop over the cell: 1.3x to 1.9x the training
throughput of the stock layers at the zoo's sizes (benchmarks/kernels.py). Their variables, names, object
structure and config are the stock layers', so checkpoints, .weights.h5 and .keras files move between the
two unchanged; the generation code (models/stepping.py) steps their cells, which are the stock cells.
Masks need not be right-padded for the fused op (it follows Keras' generic loop at every masked step).

Which implementation a layer traces:
- inside `portable_kernels()`: Keras' generic loop, standard TF ops only (no custom op, no cuDNN);
- else on a GPU: Keras' (cuDNN where it applies);
- else the fused op, where it computes what Keras would (default activations, a bias, no cell or recurrent
  dropout, not unrolled, float32, GRU reset_after, use_cudnn="auto") and the op library could be built
  (models/kernels.available()); otherwise Keras' generic loop.
"""

import contextlib
import contextvars

import keras
import tensorflow as tf

from models import kernels

_portable = contextvars.ContextVar("rnnzoo_portable_kernels", default=False)


@contextlib.contextmanager
def portable_kernels():
  """Layers traced inside use Keras' generic loop: standard TF ops only, no custom op, no cuDNN op.

  For graphs that must run anywhere: an exported SavedModel (served by TF Serving or on a host without this
  project's compiled library or without a GPU; a cuDNN op cannot run on a CPU-only host, keras-team/keras#18504)
  and XLA (tf.function(jit_compile=True)), which compiles neither kind of op.

  The choice is made when a layer is traced, not when a graph runs: a tf.function traces on its first call
  (and on new input signatures), so enter the context around that first call, or around the save that
  traces the exported functions; a function traced before, outside the context, keeps the fused op.
  The context is a contextvar: it holds for the thread (or asyncio task) that entered it, and other threads
  tracing at the same time are not affected.

  Traces inside an XLA context or inside tf.saved_model.save get the generic loop even without it.
  """
  token = _portable.set(True)
  try:
    yield
  finally:
    _portable.reset(token)


def _portable_required():
  if _portable.get():
    return True
  try:  # TF's own markers, private but stable since TF 2.0; without them only the context decides
    from tensorflow.python.ops import control_flow_util
    from tensorflow.python.saved_model import save_context
  except ImportError:
    return False
  return save_context.in_save_context() or control_flow_util.GraphOrParentsInXlaContext(
      tf.compat.v1.get_default_graph())


_TANH = (keras.activations.tanh, tf.tanh, keras.ops.tanh)
_SIGMOID = (keras.activations.sigmoid, tf.sigmoid, keras.ops.sigmoid)


def cudnn_safe_mask(mask):
  """A mask in which no row is all padding: such a row's first step counts as read. Keras' cuDNN path refuses a
  fully masked row (it asserts every sequence is non-empty and right-padded), and a batch may hold one (an empty
  review, an empty sentence at serving time); what the row reads is discarded anyway, since everything after the
  recurrent layer (pooling, the loss, the tags) masks it."""
  mask = tf.cast(mask, tf.bool)
  empty = ~tf.reduce_any(mask, axis=1, keepdims=True)
  first = tf.range(tf.shape(mask)[1])[None] == 0
  return mask | (empty & first)


class _FusedOnCpu:
  """Mixin for a keras.layers RNN subclass: inner_loop runs the fused op where it computes what Keras would."""

  def inner_loop(self, sequences, initial_state, mask, training=False):
    if keras.tree.is_nested(mask):
      mask = mask[0]
    if _portable_required():
      # keras.layers.RNN's loop, skipping LSTM's and GRU's attempt at cuDNN.
      return keras.layers.RNN.inner_loop(self, sequences, initial_state, mask=mask, training=training)
    if not self._fused_applies(sequences):
      if mask is not None and tf.config.list_logical_devices("GPU"):
        mask = cudnn_safe_mask(mask)
      return super().inner_loop(sequences, initial_state, mask=mask, training=training)
    states = list(initial_state) if keras.tree.is_nested(initial_state) else [initial_state]
    output, *final_states = self._fused(
        sequences, states, mask, go_backwards=self.go_backwards, return_sequences=self.return_sequences,
        zero_output_for_mask=self.zero_output_for_mask)
    self.supports_jit = False  # as Keras does for cuDNN: model.fit(jit_compile="auto") must not XLA-compile it
    if self.return_sequences:
      return output[:, -1], output, final_states
    return output, output[:, None], final_states

  def _fused(self, sequences, states, mask, **options):
    cell = self.cell
    return self._kernel(sequences, cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value, *states,
                        mask=mask, **options)

  def _fused_applies(self, sequences):
    cell = self.cell
    fits = (cell.activation in _TANH and getattr(cell, "recurrent_activation", keras.activations.sigmoid) in _SIGMOID
            and cell.use_bias and not self.unroll and not cell.dropout and not cell.recurrent_dropout
            and getattr(self, "use_cudnn", "auto") == "auto" and getattr(cell, "reset_after", True)
            and sequences.dtype == tf.float32 and cell.compute_dtype == "float32")
    # Last, as it builds the library on first use: only for layers that would use it.
    return fits and not tf.config.list_logical_devices("GPU") and kernels.available()


@keras.saving.register_keras_serializable("rnnzoo")
class LSTM(_FusedOnCpu, keras.layers.LSTM):
  """keras.layers.LSTM; on CPU the sequence runs in models.kernels.lstm (see the module's docstring)."""
  _kernel = staticmethod(kernels.lstm)


@keras.saving.register_keras_serializable("rnnzoo")
class GRU(_FusedOnCpu, keras.layers.GRU):
  """keras.layers.GRU; on CPU the sequence runs in models.kernels.gru (see the module's docstring)."""
  _kernel = staticmethod(kernels.gru)


@keras.saving.register_keras_serializable("rnnzoo")
class SimpleRNN(_FusedOnCpu, keras.layers.SimpleRNN):
  """keras.layers.SimpleRNN; on CPU the sequence runs in models.kernels.simple_rnn (see the module's docstring)."""
  _kernel = staticmethod(kernels.simple_rnn)


_LAYERS = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


def recurrent_layer(cell, units, *, bidirectional=False, return_sequences=True, return_state=False, stateful=False,
                    name, **layer_options):
  """The zoo's layer for `cell`; layer_options go to its constructor (e.g. initializers)."""
  layer = _LAYERS[cell](units, return_sequences=return_sequences, return_state=return_state, stateful=stateful,
                        name=name, **layer_options)
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
