"""Words as sentiment and language_model read them: one standardization, one vocabulary file, one vectorizer.

Both tasks tokenize the same way so that a model pretrained by one reads the other's inputs (train.py
--init_from carries the vocabulary file over): lowercase, IMDB's <br /> tags dropped, punctuation a token of
its own ("!" carries sentiment), split on white space. Ids: 0 padding, 1 unknown, then the training text's
tokens, most frequent first (so a Zipfian candidate sampler's order is the vocabulary's).
"""

import os
import re

import keras
import tensorflow as tf

from common.files import write_text_atomic
from common.progress import Progress

VOCABULARY_FILE = "vocabulary.txt"
TOKENS = "words (tasks/words.py)"   # Task.tokens of the tasks that read these words
_PUNCTUATION = "[" + re.escape("!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~") + "]"


def standardize(text):
  """Lowercase, drop the <br /> tags IMDB keeps, and make punctuation tokens of their own."""
  text = tf.strings.lower(text)
  text = tf.strings.regex_replace(text, r"<br\s*/?>", " ")
  return tf.strings.regex_replace(text, _PUNCTUATION, r" \0 ")


def vectorizer(vocab_size, vocabulary=None):
  """Strings -> ragged int64 ids, with `vocabulary` (tokens, most frequent first) or one to adapt."""
  return keras.layers.TextVectorization(
      max_tokens=vocab_size, standardize=standardize, ragged=True, vocabulary=vocabulary, name="vectorize")


def load_or_fit(artifacts_dir, vocab_size, texts, what):
  """The vectorizer of the run in artifacts_dir: its vocabulary.txt if there is one (a resumed run, or one
  carried over by --init_from), else fitted on texts() (a dataset of string batches, only read then: a run with
  its vocabulary needs no training data to be rebuilt) and written there."""
  path = os.path.join(artifacts_dir, VOCABULARY_FILE)
  if os.path.exists(path):
    return vectorizer(None, read_vocabulary(artifacts_dir))
  fitted = vectorizer(vocab_size)
  progress = Progress(f"Counting the vocabulary of {what}", unit="batches")
  fitted.reset_state()   # TextVectorization.adapt's own steps, with progress shown
  for batch in texts():
    fitted.update_state(batch)
    progress.update(1)
  fitted.finalize_state()
  progress.close()
  write_text_atomic(path, "\n".join(fitted.get_vocabulary(include_special_tokens=False)))
  return fitted


def read_vocabulary(artifacts_dir):
  """The tokens of a run's vocabulary.txt, most frequent first (padding and unknown not included)."""
  with open(os.path.join(artifacts_dir, VOCABULARY_FILE), encoding="utf-8") as f:
    return f.read().split("\n")


def at_least_one_step(ids):
  """Pads the time (last) axis to >= 1 step: zero steps crash the RNN, one masked step reads as empty."""
  missing = tf.maximum(0, 1 - tf.shape(ids)[-1])
  return tf.pad(ids, tf.concat([tf.zeros([tf.rank(ids) - 1, 2], tf.int32), [[0, missing]]], axis=0))
