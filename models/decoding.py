"""Choosing ids from logits, and the generation loop that feeds each choice back (inside the graph)."""

import tensorflow as tf

GREEDY_BELOW = 1e-6   # a temperature at or below this picks the most likely id
NEVER = -1e9          # the score of a hypothesis that cannot be chosen (finite: -inf - -inf is nan)


def pick_ids(logits, temperature, top_k=0, banned=()):
  """logits [batch, vocab] -> ids [batch]: sampled at `temperature` (a scalar, or one per row) among the `top_k`
  best (0: all).

  `banned` ids (padding, unknown) are never chosen. A temperature <= GREEDY_BELOW is greedy decoding.
  """
  vocab = tf.shape(logits)[-1]
  if banned:
    logits = _ban(logits, banned)
  k = tf.minimum(tf.where(top_k > 0, top_k, vocab), vocab)
  kth_best = tf.math.top_k(logits, k=k).values[:, -1:]
  logits = tf.where(logits >= kth_best, logits, logits.dtype.min)
  temperature = tf.broadcast_to(tf.cast(temperature, logits.dtype), tf.shape(logits)[:1])
  greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
  sampled = tf.random.categorical(logits / tf.maximum(temperature, GREEDY_BELOW)[:, None], 1, dtype=tf.int32)[:, 0]
  return tf.where(temperature <= GREEDY_BELOW, greedy, sampled)


def continue_sequences(step, states, primes, num_steps, pick):
  """Reads each row's prime, then generates its num_steps ids, each fed back as the next input; rows of a batch
  may have primes and lengths of their own.

  step(ids [batch], states) -> (logits [batch, vocab], states), e.g. a many_to_many Generator's; primes: ragged
  int32 [batch, (>= 1)]; num_steps: int32 [batch]; pick: logits -> ids [batch].
  Returns int32 [batch, max(num_steps)], 0 after a row's own num_steps.
  """
  lengths = tf.cast(primes.row_lengths(), tf.int32)
  padded = primes.to_tensor()
  total = tf.reduce_max(lengths) - 1 + tf.reduce_max(num_steps)   # steps until the last row has all its ids

  def body(t, last, states, chosen):
    reading = t < lengths   # a row reads its prime, then what it chose
    inputs = tf.where(reading, tf.gather(padded, tf.minimum(t, tf.shape(padded)[1] - 1), axis=1), last)
    logits, states = step(inputs, states)
    picked = pick(logits)
    return t + 1, picked, states, chosen.write(t, picked)

  # The batch may be known statically in the states and not in the ids (a vectorizer's ragged output): both vary.
  _, _, _, chosen = tf.while_loop(
      lambda t, *_: t < total, body,
      (0, padded[:, 0], states, tf.TensorArray(tf.int32, size=tf.maximum(total, 0))),
      shape_invariants=(tf.TensorShape([]), tf.TensorShape([None]),
                        tf.nest.map_structure(lambda s: tf.TensorShape([None, *s.shape[1:]]), states),
                        tf.TensorShape(None)))
  chosen = tf.transpose(chosen.stack())                            # [batch, total]
  # Row i's k-th new id was chosen at step lengths_i - 1 + k.
  k = tf.range(tf.reduce_max(num_steps))
  ids = tf.gather(chosen, lengths[:, None] - 1 + k[None], batch_dims=1)
  return tf.where(k[None] < num_steps[:, None], ids, 0)


def _ban(log_probs, banned):
  vocab = tf.shape(log_probs)[-1]
  allowed = tf.reduce_all(tf.range(vocab)[:, None] != tf.constant(banned, tf.int32)[None, :], axis=1)
  return tf.where(allowed, log_probs, log_probs.dtype.min)


def _repeat(structure, times):
  return tf.nest.map_structure(lambda t: tf.repeat(t, times, axis=0), structure)


def beam_search(step, memory, states, start_id, end_id, max_length, beam_size, length_alpha=1.0, banned=(0,)):
  """Batched beam search: ids [batch, <= max_length], each row the best hypothesis, 0 after its end_id.

  step(tokens [n], states, memory) -> (logits [n, vocab], states), with memory and states [n, ...]
  per row (n = batch x beam inside). As in fairseq, `beam_size` hypotheses stay alive and finished ones are
  kept apart: each step takes the 2 x beam_size best extensions; those ending in end_id among the first
  beam_size are finished, ranked by log-probability / length**length_alpha (length normalisation, the length
  counting end_id; 0 turns it off), and the best beam_size that do not end stay alive. A finished hypothesis
  never holds an alive slot, so short translations do not crowd longer ones out of the search. A row stops once
  it has beam_size finished, and then changes no more, so each row's result does not depend on the rest of the
  batch. With beam_size 1 this is greedy decoding.
  """
  batch = tf.shape(memory["context"])[0]
  k = beam_size
  memory, states = _repeat(memory, k), _repeat(states, k)
  # Only the first beam is alive at the start, so the first step does not pick one token k times.
  alive_scores = tf.tile(tf.concat([[0.0], tf.fill([k - 1], NEVER)], axis=0)[None], [batch, 1])
  alive_ids = tf.zeros([batch, k, 0], tf.int32)
  done_scores = tf.fill([batch, k], NEVER)   # normalised; NEVER marks a slot not yet filled
  done_ids = tf.zeros([batch, k, 0], tf.int32)
  tokens = tf.fill([batch * k], start_id)

  def row_done(done_scores):
    return done_scores[:, -1] > NEVER / 2

  def body(t, tokens, states, alive_scores, alive_ids, done_scores, done_ids):
    logits, states = step(tokens, states, memory)
    log_probs = _ban(tf.nn.log_softmax(logits), banned)
    vocab = tf.shape(log_probs)[-1]
    total = tf.reshape(alive_scores[..., None] + tf.reshape(log_probs, [batch, k, vocab]), [batch, k * vocab])
    scores, best = tf.math.top_k(total, k=2 * k)
    beam, token = best // vocab, best % vocab
    ids = tf.concat([tf.gather(alive_ids, beam, batch_dims=1), token[..., None]], axis=2)   # [batch, 2k, t + 1]
    ends = token == end_id

    # Finished: the ends among the first k candidates, in rows still searching.
    finishing = ends & (tf.range(2 * k) < k)[None] & ~row_done(done_scores)[:, None]
    length = tf.cast(t + 1, tf.float32)
    normalised = tf.where(finishing, scores / length ** tf.cast(length_alpha, tf.float32), NEVER)
    pooled_scores = tf.concat([done_scores, normalised], axis=1)
    pooled_ids = tf.concat([tf.pad(done_ids, [[0, 0], [0, 0], [0, 1]]), ids], axis=1)
    done_scores, kept = tf.math.top_k(pooled_scores, k=k)
    done_ids = tf.gather(pooled_ids, kept, batch_dims=1)

    # Alive: the best k candidates that do not end.
    alive_scores, kept = tf.math.top_k(tf.where(ends, NEVER, scores), k=k)
    alive_ids = tf.gather(ids, kept, batch_dims=1)
    rows = tf.reshape(tf.range(batch)[:, None] * k + tf.gather(beam, kept, batch_dims=1), [-1])
    states = tf.nest.map_structure(lambda s: tf.gather(s, rows), states)
    tokens = tf.reshape(tf.gather(token, kept, batch_dims=1), [-1])
    return t + 1, tokens, states, alive_scores, alive_ids, done_scores, done_ids

  _, _, _, _, alive_ids, done_scores, done_ids = tf.while_loop(
      lambda t, tokens, states, alive_scores, alive_ids, done_scores, done_ids:
          (t < max_length) & ~tf.reduce_all(row_done(done_scores)),
      body, (0, tokens, states, alive_scores, alive_ids, done_scores, done_ids),
      shape_invariants=(tf.TensorShape([]), tf.TensorShape([None]),
                        tf.nest.map_structure(lambda s: tf.TensorShape([None, *s.shape[1:]]), states),
                        tf.TensorShape([None, None]), tf.TensorShape([None, None, None]), tf.TensorShape([None, None]),
                        tf.TensorShape([None, None, None])))
  # A row that reached max_length with nothing finished returns its best alive hypothesis.
  found = done_scores[:, 0] > NEVER / 2
  return tf.where(found[:, None], done_ids[:, 0], alive_ids[:, 0])


def greedy_search(step, memory, states, start_id, end_id, max_length, banned=(0,)):
  """ids [batch, <= max_length]: the likeliest token at every step, 0 after end_id."""
  batch = tf.shape(memory["context"])[0]

  def body(t, tokens, states, finished, written):
    logits, states = step(tokens, states, memory)
    chosen = tf.argmax(_ban(logits, banned), axis=-1, output_type=tf.int32)
    chosen = tf.where(finished, 0, chosen)
    return t + 1, chosen, states, finished | (chosen == end_id), written.write(t, chosen)

  _, _, _, _, written = tf.while_loop(
      lambda t, tokens, states, finished, written: (t < max_length) & ~tf.reduce_all(finished), body,
      (0, tf.fill([batch], start_id), states, tf.zeros([batch], tf.bool), tf.TensorArray(tf.int32, size=0,
                                                                                          dynamic_size=True)))
  return tf.transpose(written.stack())
