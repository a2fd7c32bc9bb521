"""Masked pooling over time: a sequence of vectors [B, T, D] -> one vector per example.

Keras' GlobalMaxPooling1D ignores the mask and so would pool over padding; these do not.
An example whose steps are all masked pools to zeros.
"""

import keras
from keras import ops


def _mask_or_ones(x, mask):
  if mask is None:
    return ops.ones(ops.shape(x)[:2], dtype="bool")
  return ops.cast(mask, "bool")


@keras.saving.register_keras_serializable("rnnzoo")
class MaskedPooling(keras.layers.Layer):
  """`max`, `mean` or `max_mean` (both, concatenated) over the unmasked steps."""

  def __init__(self, mode, **kwargs):
    super().__init__(**kwargs)
    if mode not in ("max", "mean", "max_mean"):
      raise ValueError(f"unknown pooling mode {mode!r}")
    self.mode = mode
    self.supports_masking = True

  def call(self, x, mask=None):
    mask = _mask_or_ones(x, mask)
    step_mask = ops.expand_dims(mask, -1)
    pooled = []
    if self.mode in ("max", "max_mean"):
      lowest = ops.full_like(x, -1e9)
      maximum = ops.max(ops.where(step_mask, x, lowest), axis=1)
      pooled.append(ops.where(ops.any(mask, axis=1, keepdims=True), maximum, ops.zeros_like(maximum)))
    if self.mode in ("mean", "max_mean"):
      weights = ops.cast(step_mask, x.dtype)
      total = ops.sum(x * weights, axis=1)
      pooled.append(total / ops.maximum(ops.sum(weights, axis=1), 1.0))
    return pooled[0] if len(pooled) == 1 else ops.concatenate(pooled, axis=-1)

  def compute_mask(self, x, mask=None):
    return None

  def get_config(self):
    return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable("rnnzoo")
class AttentionPooling(keras.layers.Layer):
  """Learned weighted average over time (Yang et al. 2016 style): a_t = softmax(v . tanh(W h_t))."""

  def __init__(self, units, **kwargs):
    super().__init__(**kwargs)
    self.units = units
    self.supports_masking = True
    self.project = keras.layers.Dense(units, activation="tanh", name="project")
    self.score = keras.layers.Dense(1, use_bias=False, name="score")

  def build(self, input_shape):
    self.project.build(input_shape)
    self.score.build((*input_shape[:-1], self.units))

  def call(self, x, mask=None):
    mask = _mask_or_ones(x, mask)
    scores = ops.squeeze(self.score(self.project(x)), -1)
    scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
    weights = ops.softmax(scores, axis=1) * ops.cast(mask, x.dtype)
    return ops.sum(x * ops.expand_dims(weights, -1), axis=1)

  def compute_mask(self, x, mask=None):
    return None

  def get_config(self):
    return {**super().get_config(), "units": self.units}


def pool(x, mode, name="pooling"):
  if mode == "attention":
    return AttentionPooling(int(x.shape[-1]), name=name)(x)
  return MaskedPooling(mode, name=name)(x)
