"""Reversible tokenization, and subword units learned from training text, both inside the TensorFlow graph.

Tokens mark where the text had a space, as SentencePiece does: "▁" (U+2581) starts every token that followed
white space, so joining the tokens and reading "▁" as a space gives the text back, spaced exactly as it was
(white space runs normalised to one space):

    "I don't know."  -> ▁I ▁don ' t ▁know .            -> "I don't know."
    '"Yes," he said.' -> ▁" Yes , " ▁he ▁said .          -> '"Yes," he said.'
    "¿Dónde está?"   -> ▁¿ Dónde ▁está ?                -> "¿Dónde está?"

Words are runs of letters, marks and digits; every other character is a token of its own (with its "▁" if a
space came before it), so no language's punctuation or spacing has to be known. A "▁" already in the text reads
as a space.

Subwords: byte-pair encoding (Sennrich et al. 2016) learned from the training side's tokens (`learn_bpe`, in
Python) and applied to any token in the graph (`Subwords`, a tf.while_loop merging the best-ranked pair of each
token until none applies), so an export still takes raw strings. Why not a library: tensorflow-text (which
applies SentencePiece and WordPiece in the graph) needs the full `tensorflow` wheel beside tensorflow-cpu, and
learning and applying must be the same algorithm to give the same units.
"""

import collections

import tensorflow as tf

SPACE = "\u2581"
_WORD = r"\pL\pM\pN"
_WHITE = r"\t\n\v\f\r "   # ASCII white space, as tf.strings.strip knows it (other spaces are characters)
NO_RANK = 2**31 - 1   # the rank of a pair that is no merge


def tokenize(text):
  """Strings [n] -> ragged string tokens [n, (tokens)], each marked with "▁" where a space came before it."""
  text = tf.strings.regex_replace(text, SPACE, " ")
  text = tf.strings.strip(tf.strings.regex_replace(text, f"[{_WHITE}]+", " "))
  text = tf.strings.regex_replace(tf.strings.join([" ", text]), " ", " " + SPACE)
  text = tf.strings.regex_replace(text, f"({SPACE}?[^{_WORD}{_WHITE}{SPACE}])", r" \1 ")
  tokens = tf.strings.split(text)
  return tf.ragged.boolean_mask(tokens, tokens != SPACE)   # an empty text's lone mark is no token


def detokenize(tokens):
  """Ragged tokens (or subwords) [n, (tokens)] -> strings [n]: joined, each "▁" a space."""
  text = tf.strings.reduce_join(tokens, axis=-1)
  return tf.strings.strip(tf.strings.regex_replace(text, SPACE, " "))


def learn_bpe(token_counts, merges):
  """The first `merges` byte-pair merges (as (left, right) pairs, in the order learned) of tokens counted in the
  training text: each step joins the pair of adjacent symbols seen most often (a pair seen once is no merge)."""
  words = {tuple(token): count for token, count in token_counts.items()}
  pairs = collections.Counter()
  holding = collections.defaultdict(set)   # pair -> the words it occurs in
  for word, count in words.items():
    for pair in zip(word, word[1:]):
      pairs[pair] += count
      holding[pair].add(word)
  learned = []
  for _ in range(merges):
    if not pairs:
      break
    best = max(pairs, key=pairs.__getitem__)   # ties: the pair counted first (deterministic: the text's order)
    if pairs[best] < 2:
      break
    learned.append(best)
    for word in list(holding.pop(best, ())):
      count = words.pop(word)
      for pair in zip(word, word[1:]):
        pairs[pair] -= count
        if pairs[pair] <= 0:
          del pairs[pair]
        holding[pair].discard(word)
      merged = _merge(word, best)
      words[merged] = words.get(merged, 0) + count
      for pair in zip(merged, merged[1:]):
        pairs[pair] += count
        holding[pair].add(merged)
  return learned


def _merge(word, pair):
  out, i = [], 0
  while i < len(word):
    if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
      out.append(word[i] + word[i + 1])
      i += 2
    else:
      out.append(word[i])
      i += 1
  return tuple(out)


def apply_bpe(token, merges):
  """The subwords of one token under `merges` (Python; the reference the graph version is tested against)."""
  ranks = {pair: rank for rank, pair in enumerate(merges)}
  word = tuple(token)
  while len(word) > 1:
    pair = min(zip(word, word[1:]), key=lambda p: ranks.get(p, NO_RANK))
    if pair not in ranks:
      break
    word = _merge(word, pair)
  return list(word)


class Subwords(tf.Module):
  """Byte-pair encoding in the graph: ragged tokens [n, (tokens)] -> ragged subwords [n, (subwords)]."""

  def __init__(self, merges, name="subwords"):
    super().__init__(name=name)
    keys = tf.constant([f"{left} {right}" for left, right in merges] or [" "], tf.string)
    self.ranks = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(keys, tf.range(tf.size(keys), dtype=tf.int32)), NO_RANK)

  def __call__(self, tokens):
    unique, position = tf.unique(tokens.flat_values)   # a batch repeats its words: merge each once
    units = _merge_all(tf.strings.unicode_split(unique, "UTF-8"), self.ranks)
    per_token = tf.gather(units, position)              # [tokens, (subwords)]
    per_row = tf.math.unsorted_segment_sum(per_token.row_lengths(), tokens.value_rowids(), tokens.nrows())
    return tf.RaggedTensor.from_row_lengths(per_token.flat_values, per_row)


def _merge_all(symbols, ranks):
  """Ragged symbols [words, (symbols)] -> each word's symbols merged, best-ranked pair first, until none applies.

  One merge per word per iteration (its best pair's first occurrence): a pair made from a merged symbol always
  ranks after the merge that made it, so this is the left-to-right application of standard BPE."""

  def step(words, active):
    padded = words.to_tensor("")
    padded = tf.pad(padded, [[0, 0], [0, tf.maximum(0, 2 - tf.shape(padded)[1])]], constant_values="")
    left, right = padded[:, :-1], padded[:, 1:]
    rank = ranks.lookup(tf.strings.join([left, right], separator=" "))
    rank = tf.where((left != "") & (right != ""), rank, NO_RANK)
    best = tf.argmin(rank, axis=1, output_type=tf.int32)
    found = tf.reduce_min(rank, axis=1) < NO_RANK
    merged = tf.strings.join([tf.gather(left, best, batch_dims=1), tf.gather(right, best, batch_dims=1)])
    column = tf.range(tf.shape(padded)[1])[None]
    padded = tf.where(found[:, None] & (column == best[:, None]), merged[:, None], padded)
    padded = tf.where(found[:, None] & (column == best[:, None] + 1), "", padded)
    return tf.ragged.boolean_mask(padded, padded != ""), found

  words, _ = tf.while_loop(lambda words, active: tf.reduce_any(active), step,
                           (symbols, tf.ones([symbols.nrows()], tf.bool)),
                           shape_invariants=(tf.RaggedTensorSpec([None, None], tf.string, 1, tf.int64),
                                             tf.TensorShape([None])))
  return words
