"""The output layer of a word-level language model: a softmax over tens of thousands of words that training can
afford.

`SampledSoftmax` maps the hidden states [batch, steps, units] and the ids they should predict [batch, steps] to
those ids' log-probabilities [batch, steps]:

- training, with `samples` > 0: the sampled-softmax estimate (Jean et al. 2015; Bengio & Senecal 2008): the true
  id's logit against `samples` ids drawn for the whole batch from a log-uniform (Zipfian) distribution, each logit
  less the log of how often it is expected to be drawn. A token costs units x samples instead of units x vocabulary
  (measured in docs/results.md). The vocabulary must be ordered most frequent first (tasks/words.py's is).
- otherwise (evaluation, serving, or samples = 0): the exact log-softmax over the whole vocabulary; outside
  training a few thousand tokens at a time, so a long review's logits never all sit in memory at once.

`logits(hidden)` gives the full logits of one step, for generation.

Why not tf.nn.sampled_softmax_loss: its candidate sampler is a stateful op whose state no checkpoint holds, so a
resumed run would draw other candidates than an uninterrupted one; here the draws come from a Keras SeedGenerator,
which the training checkpoint saves (engine/loop.py). The arithmetic is that of sampling with replacement
(tf.nn.sampled_softmax_loss with unique=False).
"""

import math

import keras
import tensorflow as tf

EXACT_CHUNK = 4096   # tokens whose full logits are computed at once outside training


@keras.saving.register_keras_serializable("rnnzoo")
class SampledSoftmax(keras.layers.Layer):

  def __init__(self, vocabulary_size, samples, seed=None, **kwargs):
    super().__init__(**kwargs)
    self.vocabulary_size, self.samples, self.seed = vocabulary_size, samples, seed
    self.seed_generator = keras.random.SeedGenerator(seed)

  def build(self, input_shape):
    units = input_shape[0][-1]
    self.kernel = self.add_weight(shape=(self.vocabulary_size, units), initializer="glorot_uniform", name="kernel")
    self.bias = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros", name="bias")

  def logits(self, hidden):
    """hidden [..., units] -> logits [..., vocabulary]."""
    return (tf.matmul(tf.cast(hidden, tf.float32), tf.cast(self.kernel, tf.float32), transpose_b=True)
            + tf.cast(self.bias, tf.float32))

  def call(self, inputs, training=False):
    hidden, targets = inputs
    units = tf.shape(hidden)[-1]
    flat_hidden = tf.reshape(tf.cast(hidden, tf.float32), [-1, units])
    flat_targets = tf.reshape(tf.cast(targets, tf.int32), [-1])
    if training and self.samples:
      log_probs = self._sampled(flat_hidden, flat_targets)
    elif training:
      log_probs = self._exact(flat_hidden, flat_targets)
    else:
      log_probs = self._exact_in_chunks(flat_hidden, flat_targets)
    return tf.reshape(log_probs, tf.shape(targets))

  def _expected_log_count(self, ids):
    """log(samples x P(id)) under the log-uniform distribution over 1..V-1: P(id) = log((id + 1) / id) / log(V).
    Padding targets (id 0, never drawn, masked out of every loss) are counted as id 1, so they stay finite."""
    ids = tf.cast(tf.maximum(ids, 1), tf.float32)
    p = (tf.math.log(ids + 1.0) - tf.math.log(ids)) / math.log(float(self.vocabulary_size))
    return tf.math.log(self.samples * p)

  def _sampled(self, hidden, targets):
    uniform = keras.random.uniform((self.samples,), seed=self.seed_generator)
    # Inverse of the log-uniform CDF: floor(exp(u log V)) lies in [1, V).
    sampled = tf.cast(tf.floor(tf.exp(uniform * math.log(float(self.vocabulary_size)))), tf.int32)
    sampled = tf.clip_by_value(sampled, 1, self.vocabulary_size - 1)
    kernel, bias = tf.cast(self.kernel, tf.float32), tf.cast(self.bias, tf.float32)
    true_logits = (tf.reduce_sum(hidden * tf.gather(kernel, targets), axis=-1) + tf.gather(bias, targets)
                   - self._expected_log_count(targets))
    sampled_logits = (tf.matmul(hidden, tf.gather(kernel, sampled), transpose_b=True) + tf.gather(bias, sampled)
                      - self._expected_log_count(sampled)[None])
    # A draw of the true id is no negative example ("accidental hits").
    sampled_logits = tf.where(sampled[None] == targets[:, None], -1e9, sampled_logits)
    logits = tf.concat([true_logits[:, None], sampled_logits], axis=1)
    return logits[:, 0] - tf.reduce_logsumexp(logits, axis=1)

  def _exact(self, hidden, targets):
    logits = self.logits(hidden)
    return tf.gather(logits, targets, batch_dims=1) - tf.reduce_logsumexp(logits, axis=-1)

  def _exact_in_chunks(self, hidden, targets):
    count = tf.shape(targets)[0]
    chunks = (count + EXACT_CHUNK - 1) // EXACT_CHUNK

    def body(i, written):
      rows = tf.range(i * EXACT_CHUNK, tf.minimum((i + 1) * EXACT_CHUNK, count))
      return i + 1, written.write(i, self._exact(tf.gather(hidden, rows), tf.gather(targets, rows)))

    _, written = tf.while_loop(lambda i, _: i < chunks, body,
                               (0, tf.TensorArray(tf.float32, size=chunks, infer_shape=False,
                                                  element_shape=tf.TensorShape([None]))))
    return tf.cond(chunks > 0, written.concat, lambda: tf.zeros([0]))

  def compute_output_shape(self, input_shape):
    return input_shape[1]

  def compute_mask(self, inputs, mask=None):
    return None

  def get_config(self):
    return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "samples": self.samples,
            "seed": self.seed}
