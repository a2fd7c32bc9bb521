"""Cross-entropy per predicted token over a whole split, the measure of language models and decoders."""

import keras
import tensorflow as tf

PADDING = 0   # the id that is never a prediction target


def losses_and_mask(targets, logits):
  """[batch, steps] cross-entropies (from logits) and the 0/1 mask of real (non-padding) targets."""
  losses = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
  return losses, tf.cast(targets != PADDING, losses.dtype)


class TokenCrossEntropy(keras.metrics.Metric):
  """The mean over every predicted token of a split (not a mean of batch means), reported in nats or
  transformed: bits (nats / ln 2) or perplexity (exp). It reads logits, or with from_log_probs the log-probabilities
  of the targets themselves ([batch, steps], as a language model's sampled-softmax head gives them)."""

  def __init__(self, name="nats_per_token", report=None, from_log_probs=False):
    super().__init__(name=name)
    self.report = report or (lambda nats: nats)
    self.from_log_probs = from_log_probs
    self.total = self.add_variable(shape=(), initializer="zeros", name="total")
    self.count = self.add_variable(shape=(), initializer="zeros", name="count")

  def update_state(self, targets, logits):
    if self.from_log_probs:
      losses, mask = -logits, tf.cast(targets != PADDING, logits.dtype)
    else:
      losses, mask = losses_and_mask(targets, logits)
    self.total.assign_add(tf.reduce_sum(losses * mask))
    self.count.assign_add(tf.reduce_sum(mask))

  def result(self):
    return self.report(self.total / tf.maximum(self.count, 1.0))
