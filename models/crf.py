"""A linear-chain conditional random field output layer (Lafferty, McCallum, Pereira 2001) for sequence labelling.

Keras ships no CRF and TensorFlow Addons (tfa.text.crf_log_likelihood / crf_decode) is no longer maintained; this
is the model of Lample et al. 2016, "Neural Architectures for Named Entity Recognition", section 2.2, and of
pytorch-crf: a path y_1..y_n of tags over emission scores e (the network's per-step scores) scores

    s(y) = start[y_1] + sum_t e_t[y_t] + sum_{t>1} transitions[y_{t-1}, y_t] + end[y_n],

p(y) = exp s(y) / Z with Z the sum over all tag paths (the forward algorithm, in log space), and the best path is
found by Viterbi decoding. Both are loops over time in the graph (tf.foldl / tf.scan), so they run inside a
tf.function or an exported SavedModel for any batch size and sequence length.

How a model exposes what the loss needs: the CRF layer's output is a dict

    {"emissions": float32 [batch, steps, tags],
     "transitions": float32 [batch, tags + 2, tags]}   # rows 0..tags-1 transitions[from, to], row tags: start,
                                                       # row tags + 1: end; the same for every example

so a task computes `nll(**outputs, tags=..., mask=...)` and `viterbi(**outputs, mask=...)` from the model's
outputs alone, without looking up layers. Why broadcast the scores over the batch: every model output must have
the batch as its first axis (Keras splits and concatenates outputs along it, e.g. across replicas), and the
functions below read each example's own copy, so an empty replica batch needs no special case.

Masks are boolean [batch, steps] and right-padded (a prefix of each row is the sentence; a row may be all
padding); `tags` at padded steps are ignored. The mask is the task's (its padding), not a Keras mask: the
layer's dict output carries none. Every computation is in float32, also when the emissions arrive as float16
under mixed precision.
"""

import keras
import tensorflow as tf
from keras import ops


def pack(transitions, start, end):
  """[tags + 2, tags]: the transition matrix [tags, tags] with the start and end score rows below it."""
  return tf.concat([transitions, start[None], end[None]], axis=0)


def unpack(packed):
  """(transitions [..., tags, tags], start [..., tags], end [..., tags]) of packed scores [..., tags + 2, tags]."""
  tags = packed.shape[-1] or tf.shape(packed)[-1]   # a static count keeps the slices' shapes known
  return packed[..., :tags, :], packed[..., tags, :], packed[..., tags + 1, :]


def _prepare(emissions, transitions, mask):
  emissions = tf.cast(emissions, tf.float32)
  transitions, start, end = unpack(tf.cast(transitions, tf.float32))
  mask = tf.cast(mask, tf.bool)
  return emissions, transitions, start, end, mask


def _time_major(emissions, mask):
  """Each step's emissions [steps, batch, tags], mask [steps, batch], and whether it is the first [steps]."""
  return (tf.transpose(emissions, [1, 0, 2]), tf.transpose(mask), tf.equal(tf.range(tf.shape(mask)[1]), 0))


def path_score(emissions, transitions, tags, mask):
  """s(y) [batch] of the tag paths `tags` int [batch, steps] (0 for a row that is all padding)."""
  emissions, transitions, start, end, mask = _prepare(emissions, transitions, mask)
  tags = tf.where(mask, tf.cast(tags, tf.int32), 0)   # padding may hold any id, even -1
  weights = tf.cast(mask, tf.float32)
  num_tags = tf.shape(emissions)[2]
  lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
  score = tf.reduce_sum(tf.gather(emissions, tags, batch_dims=2) * weights, axis=1)
  pairs = tags[:, :-1] * num_tags + tags[:, 1:]   # (from, to) as an index into the flattened matrix
  flat = tf.reshape(transitions, [tf.shape(transitions)[0], -1])
  score += tf.reduce_sum(tf.gather(flat, pairs, batch_dims=1) * weights[:, 1:], axis=1)
  last = tf.gather(tags, tf.maximum(lengths - 1, 0), batch_dims=1)
  ends = tf.gather(start, tags[:, 0], batch_dims=1) + tf.gather(end, last, batch_dims=1)
  return score + tf.where(lengths > 0, ends, 0.0)


def log_partition(emissions, transitions, mask):
  """log Z [batch]: the log-sum-exp of s(y) over all tag paths of each row's length (0 for an empty row)."""
  emissions, transitions, start, end, mask = _prepare(emissions, transitions, mask)

  def forward(alpha, step):
    # alpha[b, j]: log-sum-exp of the scores of all paths up to this step that end in tag j
    emission, step_mask, first = step
    carried = tf.reduce_logsumexp(alpha[:, :, None] + transitions, axis=1) + emission
    updated = tf.where(first, start + emission, carried)
    return tf.where(step_mask[:, None], updated, alpha)   # padding leaves alpha as the sentence's last step left it

  alpha = tf.foldl(forward, _time_major(emissions, mask), initializer=tf.zeros_like(emissions[:, 0]))
  return tf.where(tf.reduce_any(mask, axis=1), tf.reduce_logsumexp(alpha + end, axis=1), 0.0)


def nll(emissions, transitions, tags, mask):
  """-log p(tags) [batch]: the negative log-likelihood of each row's gold tag path (0 for an empty row)."""
  return log_partition(emissions, transitions, mask) - path_score(emissions, transitions, tags, mask)


def viterbi(emissions, transitions, mask):
  """(best path int32 [batch, steps], 0 at padded steps; its score s(y) [batch], 0 for an empty row)."""
  emissions, transitions, start, end, mask = _prepare(emissions, transitions, mask)
  identity = tf.broadcast_to(tf.range(tf.shape(emissions)[2])[None], tf.shape(emissions[:, 0]))

  def forward(carry, step):
    # delta[b, j]: the best score of a path up to this step that ends in tag j; pointer[b, j]: its previous tag
    delta, _ = carry
    emission, step_mask, first = step
    scores = delta[:, :, None] + transitions
    updated = tf.where(first, start + emission, tf.reduce_max(scores, axis=1) + emission)
    pointer = tf.where(step_mask[:, None] & ~first, tf.argmax(scores, axis=1, output_type=tf.int32), identity)
    return tf.where(step_mask[:, None], updated, delta), pointer

  # Every loop runs over all steps (at least one): a tf.scan over zero steps cannot stack its empty result when the
  # batch size is unknown, so the first step is a case inside the loop rather than the loop's initial value.
  deltas, pointers = tf.scan(forward, _time_major(emissions, mask), initializer=(tf.zeros_like(identity, tf.float32),
                                                                                 identity))
  final = deltas[-1] + end
  last = tf.argmax(final, axis=1, output_type=tf.int32)

  def backward(tag, pointer):
    return tf.gather(pointer, tag, batch_dims=1)

  # Step t's tag is pointers[t + 1] at step t + 1's tag; the last step's is `last`. Padded steps point to
  # themselves, so the walk back carries `last` unchanged to the sentence's final word.
  previous = tf.concat([pointers[1:], identity[None]], axis=0)
  path = tf.transpose(tf.scan(backward, previous, initializer=last, reverse=True))
  nonempty = tf.reduce_any(mask, axis=1)
  return tf.where(mask, path, 0), tf.where(nonempty, tf.reduce_max(final, axis=1), 0.0)


@keras.saving.register_keras_serializable("rnnzoo")
class CRF(keras.layers.Layer):
  """Transition, start and end scores over `num_tags` tags; emissions [batch, steps, num_tags] -> the dict above.

  The scores start at zero, so an untrained CRF head decodes as a per-step softmax would and training moves
  them only as far as the data asks. The layer computes in float32 (its own dtype policy) unless told otherwise.
  """

  def __init__(self, num_tags, **kwargs):
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)
    self.num_tags = int(num_tags)
    self.supports_masking = True   # the mask is accepted and dropped: nll and viterbi take the task's own

  def build(self, input_shape):
    if input_shape[-1] is not None and input_shape[-1] != self.num_tags:
      raise ValueError(f"CRF over {self.num_tags} tags got emissions with {input_shape[-1]} scores per step")
    self.transitions = self.add_weight(name="transitions", shape=(self.num_tags, self.num_tags), initializer="zeros")
    self.start = self.add_weight(name="start", shape=(self.num_tags,), initializer="zeros")
    self.end = self.add_weight(name="end", shape=(self.num_tags,), initializer="zeros")

  def call(self, emissions, mask=None):
    emissions = ops.cast(emissions, "float32")
    packed = ops.concatenate([ops.cast(self.transitions, "float32"), ops.cast(self.start, "float32")[None],
                              ops.cast(self.end, "float32")[None]], axis=0)
    shape = (ops.shape(emissions)[0], self.num_tags + 2, self.num_tags)
    return {"emissions": emissions, "transitions": ops.broadcast_to(packed[None], shape)}

  def compute_mask(self, emissions, mask=None):
    return None

  def compute_output_spec(self, emissions, mask=None):
    return {"emissions": keras.KerasTensor(emissions.shape, "float32"),
            "transitions": keras.KerasTensor((emissions.shape[0], self.num_tags + 2, self.num_tags), "float32")}

  def get_config(self):
    return {**super().get_config(), "num_tags": self.num_tags}
