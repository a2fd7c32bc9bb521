"""Whole-sequence LSTM, GRU and SimpleRNN as TensorFlow custom ops (rnn_ops.cc), with their gradients.

    if kernels.available():
      output, h, c = kernels.lstm(inputs, kernel, recurrent_kernel, bias, h0, c0, mask=mask)

Each function computes exactly what the Keras 3.15 layer of that cell computes with default activations, a
bias, no dropout and unroll=False (rnn_ops.cc says what that is at masked steps and with go_backwards), and
gradients flow to inputs, kernel, recurrent_kernel, bias and the initial states. One op runs the layer (the
input projection included) and one its backward pass (the weight gradients included); rnn_ops.cc says how.

`available()` builds the library on first use (models/kernels/build.py) and loads it. Where that cannot be
done (no compiler, no TF headers, a failed build, RNNZOO_KERNELS=off in the environment), it logs one
warning and returns False, and callers use Keras' own loop: the kernel is never a reason for a run to fail.
The ops run on CPU only, and are not XLA-compilable; models/recurrent.py decides when to use them.
"""

import os
import threading

import tensorflow as tf
from absl import logging

_lock = threading.Lock()
_library = None
_unavailable_because = None


def available():
  """True when the op library is loaded (building it first if need be); False, with one warning, if not."""
  global _library, _unavailable_because
  if _library is not None or _unavailable_because is not None:
    return _library is not None
  with _lock:
    if _library is None and _unavailable_because is None:
      if os.environ.get("RNNZOO_KERNELS", "").lower() in ("0", "off", "false", "no"):
        _unavailable_because = "RNNZOO_KERNELS is off"
      else:
        from models.kernels import build  # not at import: `python -m models.kernels.build` runs it as __main__
        try:
          _library = tf.load_op_library(str(build.library_path()))
        except Exception as error:  # noqa: BLE001: whatever fails here, training goes on without the kernel
          _unavailable_because = str(error).splitlines()[0] if str(error) else type(error).__name__
      if _unavailable_because is not None:
        logging.warning("RNN kernels unavailable, using Keras' generic loop: %s", _unavailable_because)
  return _library is not None


def unavailable_reason():
  """Why available() is False (None while it is True or not yet asked)."""
  return _unavailable_because


def lstm(inputs, kernel, recurrent_kernel, bias, h0, c0, mask=None, *, go_backwards=False,
         return_sequences=True, zero_output_for_mask=False):
  """Keras' LSTM over inputs [batch, time, features]: (output, h, c).

  output is [batch, time, units] with return_sequences (in the order the steps ran: reversed for
  go_backwards, as Keras returns it), else the last step's [batch, units]. mask: bool [batch, time] or None.
  """
  output, h, c, _, _ = _library.rnnzoo_lstm(
      inputs, kernel, recurrent_kernel, bias, _mask(mask), h0, c0, go_backwards=go_backwards,
      return_sequences=return_sequences, zero_output_for_mask=zero_output_for_mask)
  return output, h, c


def gru(inputs, kernel, recurrent_kernel, bias, h0, mask=None, *, go_backwards=False, return_sequences=True,
        zero_output_for_mask=False):
  """Keras' GRU (reset_after=True, bias [2, 3 * units]): (output, h); arguments as lstm()."""
  output, h, _, _ = _library.rnnzoo_gru(
      inputs, kernel, recurrent_kernel, bias, _mask(mask), h0, go_backwards=go_backwards,
      return_sequences=return_sequences, zero_output_for_mask=zero_output_for_mask)
  return output, h


def simple_rnn(inputs, kernel, recurrent_kernel, bias, h0, mask=None, *, go_backwards=False,
               return_sequences=True, zero_output_for_mask=False):
  """Keras' SimpleRNN (tanh): (output, h); arguments as lstm()."""
  output, h, _, _ = _library.rnnzoo_simple_rnn(
      inputs, kernel, recurrent_kernel, bias, _mask(mask), h0, go_backwards=go_backwards,
      return_sequences=return_sequences, zero_output_for_mask=zero_output_for_mask)
  return output, h


def _mask(mask):
  return tf.zeros([0, 0], tf.bool) if mask is None else tf.cast(mask, tf.bool)


# --- gradients ------------------------------------------------------------------------------------------
# The backward op returns the gradients of everything but the inputs: d inputs = d_pre @ kernel^T is a TF
# MatMul here, so that TF prunes it where the inputs need no gradient (a model's first layer). The forward
# ops' extra outputs (h_prev, workspace) exist for these functions only; gradients arriving for them are
# ignored. A gradient that is None (that output was not used) becomes zeros.

def _gradient(backward_op, op, d_output, *d_states):
  inputs, kernel, recurrent_kernel, _, mask = op.inputs[:5]
  output, *states, h_prev, workspace = op.outputs
  d_states = [tf.zeros_like(s) if d is None else d for d, s in zip(d_states, states)]
  d_output = tf.zeros_like(output) if d_output is None else d_output
  d_pre, d_kernel, d_recurrent_kernel, d_bias, *d_initial = backward_op(
      inputs, recurrent_kernel, mask, h_prev, workspace, d_output, *d_states,
      **{name: op.get_attr(name) for name in ("go_backwards", "return_sequences", "zero_output_for_mask")})
  gates = d_pre.shape[-1] if d_pre.shape[-1] is not None else tf.shape(d_pre)[-1]
  d_inputs = tf.reshape(tf.matmul(tf.reshape(d_pre, [-1, gates]), kernel, transpose_b=True), tf.shape(inputs))
  return [d_inputs, d_kernel, d_recurrent_kernel, d_bias, None, *d_initial]


@tf.RegisterGradient("RnnzooLstm")
def _lstm_gradient(op, d_output, d_h, d_c, _d_h_prev, _d_workspace):
  return _gradient(_library.rnnzoo_lstm_grad, op, d_output, d_h, d_c)


@tf.RegisterGradient("RnnzooGru")
def _gru_gradient(op, d_output, d_h, _d_h_prev, _d_workspace):
  return _gradient(_library.rnnzoo_gru_grad, op, d_output, d_h)


@tf.RegisterGradient("RnnzooSimpleRnn")
def _simple_rnn_gradient(op, d_output, d_h, _d_h_prev, _d_workspace):
  return _gradient(_library.rnnzoo_simple_rnn_grad, op, d_output, d_h)
