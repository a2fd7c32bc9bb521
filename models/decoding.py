"""Choosing ids from logits, and the generation loop that feeds each choice back (inside the graph)."""

import tensorflow as tf

GREEDY_BELOW = 1e-6   # a temperature at or below this picks the most likely id


def pick_ids(logits, temperature, top_k=0, banned=()):
  """logits [batch, vocab] -> ids [batch]: sampled at `temperature` among the `top_k` best (0: all).

  `banned` ids (padding, unknown) are never chosen. A temperature <= GREEDY_BELOW is greedy decoding.
  """
  vocab = tf.shape(logits)[-1]
  if banned:
    allowed = tf.reduce_all(tf.range(vocab)[:, None] != tf.constant(banned)[None, :], axis=1)
    logits = tf.where(allowed[None, :], logits, logits.dtype.min)
  k = tf.minimum(tf.where(top_k > 0, top_k, vocab), vocab)
  kth_best = tf.math.top_k(logits, k=k).values[:, -1:]
  logits = tf.where(logits >= kth_best, logits, logits.dtype.min)
  return tf.cond(
      temperature <= GREEDY_BELOW,
      lambda: tf.argmax(logits, axis=-1, output_type=tf.int32),
      lambda: tf.random.categorical(logits / tf.maximum(temperature, GREEDY_BELOW), 1, dtype=tf.int32)[:, 0])


def continue_sequence(stepper, embed, head, prime_ids, num_steps, pick):
  """Reads prime_ids [P >= 1], then generates num_steps ids [num_steps], each fed back as the next input.

  stepper: models.stepping.Stepper; embed: ids [1] -> [1, features]; head: [1, units] -> logits;
  pick: logits -> ids [1].
  """
  def read(i, states):
    _, states = stepper(embed(prime_ids[i][None]), states)
    return i + 1, states

  _, states = tf.while_loop(lambda i, _: i < tf.size(prime_ids) - 1, read, (0, stepper.initial_states(1)))

  def write(i, last, states, written):
    output, states = stepper(embed(last[None]), states)
    chosen = pick(head(output))[0]
    return i + 1, chosen, states, written.write(i, chosen)

  _, _, _, written = tf.while_loop(
      lambda i, *_: i < num_steps, write,
      (0, prime_ids[-1], states, tf.TensorArray(tf.int32, size=num_steps)))
  return written.stack()
