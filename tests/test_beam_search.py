"""Beam search against exhaustive search, on a decoder whose next-token probabilities are a fixed table."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from models.decoding import beam_search

PAD, UNK, START, END, A, B, C, D = range(8)


def table_decoder(probabilities):
  """step() of a decoder whose next token depends only on the last one: probabilities {token: {next: p}}."""
  table = np.full([8, 8], 1e-9)
  for token, nexts in probabilities.items():
    for following, p in nexts.items():
      table[token, following] = p
  logits = tf.constant(np.log(table / table.sum(axis=1, keepdims=True)), tf.float32)

  def step(tokens, states, memory):
    return tf.gather(logits, tokens), states

  return step, np.log(table / table.sum(axis=1, keepdims=True))


def search(step, beam_size, length_alpha, max_length, batch=1):
  memory, states = {"context": tf.zeros([batch, 1])}, tf.zeros([batch, 1])
  return beam_search(step, memory, states, START, END, max_length, beam_size, length_alpha, banned=(PAD, UNK, START))


def exhaustive_best(log_table, length_alpha, max_length):
  """The sequence ending in END (at most max_length tokens, END counted) with the best log-probability /
  length**length_alpha."""
  best, best_score = None, -np.inf
  for length in range(1, max_length + 1):
    for words in itertools.product((A, B, C, D), repeat=length - 1):
      sequence = (*words, END)
      score = sum(log_table[a, b] for a, b in zip((START, *sequence), sequence)) / length ** length_alpha
      if score > best_score:
        best, best_score = sequence, score
  return best


RANDOM_TABLE = {token: dict(zip((END, A, B, C, D), np.random.default_rng(token).dirichlet(np.ones(5))))
                for token in (START, A, B, C, D)}


@pytest.mark.parametrize("length_alpha", [0.0, 1.0, 2.0])
def test_a_beam_wide_enough_for_every_hypothesis_finds_the_exhaustive_best(length_alpha):
  step, log_table = table_decoder(RANDOM_TABLE)
  found = search(step, beam_size=64, length_alpha=length_alpha, max_length=4)[0].numpy()
  assert tuple(found[found > 0]) == exhaustive_best(log_table, length_alpha, 4)


def test_finished_translations_do_not_take_the_slots_of_the_search():
  # END is the likeliest first token; a beam that kept it in one of its two slots would follow A alone, and A's
  # short ending would fill the second. Kept apart, both A and B are searched, and B END, the best normalised
  # translation within reach, is found.
  step, log_table = table_decoder({START: {END: 0.40, A: 0.31, B: 0.29}, A: {END: 0.55, C: 0.45},
                                   B: {END: 0.9, A: 0.1}, C: {D: 1.0}, D: {END: 1.0}})
  found = search(step, beam_size=2, length_alpha=1.0, max_length=6)[0].numpy()
  assert tuple(found[found > 0]) == (B, END)


def test_each_row_is_searched_as_if_it_were_alone():
  # A row that has its translations stops changing while the rest of the batch goes on searching: here a second row
  # whose decoder almost never ends. length_alpha 2 favours long translations, so a first row that went on searching
  # would find longer ones and change its answer.
  short_step, _ = table_decoder(RANDOM_TABLE)
  long_step, _ = table_decoder({token: {END: 0.01, A: 0.33, B: 0.33, C: 0.33} for token in (START, A, B, C, D)})

  def step(tokens, states, memory):   # the row's memory says which decoder it has
    (short, states), (long, _) = short_step(tokens, states, memory), long_step(tokens, states, memory)
    return tf.where(memory["context"] > 0, long, short), states

  def translate(kinds):
    memory, states = {"context": tf.constant(kinds, tf.float32)[:, None]}, tf.zeros([len(kinds), 1])
    return beam_search(step, memory, states, START, END, 30, 3, 2.0, banned=(PAD, UNK, START)).numpy()

  alone, batched = translate([0])[0], translate([0, 1])
  assert (batched[1] > 0).sum() > (alone > 0).sum() + 5   # the batch went on well past the first row's search
  np.testing.assert_array_equal(alone[alone > 0], batched[0][batched[0] > 0])
