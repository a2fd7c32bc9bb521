"""Reversible tokenization (detokenize(tokenize(text)) is the text, white space normalised) and byte-pair
subwords in the graph equal to the reference algorithm."""

import collections
import gzip
import os
import re

import pytest
import tensorflow as tf
from hypothesis import given, settings, strategies

from tasks.tokenization import SPACE, Subwords, apply_bpe, detokenize, learn_bpe, tokenize
from tests.conftest import SHARED

MULTI30K = os.path.join(SHARED, "datasets", "multi30k")
MIXED = [
    "I don't know.", "It's Tom's book.", '"Yes," he said.', "'Single' quotes, (brackets) [and] {braces}.",
    "¿Dónde está la estación? ¡Allí!", "« Bonjour », dit-il. «Non»", "„Ja“, sagte er – ‚vielleicht‘.",
    "我爱你。你好吗？", "東京は日本の首都です", "I ❤ you 😀👍🏽!", "Ελληνικά, русский, עברית, العربية.",
    "हिन्दी में लिखा", "50% of 3.5 km² — 10,000 € / $12", "e-mail: a.b@c.de; URL http://x.y/z?q=1",
    "  leading, trailing  and   inner   spaces  ", "tabs\tand\nnew\nlines", "a\u00a0no-break space", "",
]


def normalised(text):
  text = re.sub(r"[\t\n\v\f\r ]+", " ", text.replace(SPACE, " "))
  return text.strip(" \t\n\v\f\r")


def round_trip(texts):
  return [t.decode("utf-8") for t in detokenize(tokenize(tf.constant(texts))).numpy()]


def test_a_mix_of_languages_scripts_and_punctuation_reads_back_as_written():
  assert round_trip(MIXED) == [normalised(t) for t in MIXED]
  tokens = tokenize(tf.constant(["I don't know."])).to_list()[0]
  assert [t.decode() for t in tokens] == ["▁I", "▁don", "'", "t", "▁know", "."]
  assert tokenize(tf.constant(["", "   "])).row_lengths().numpy().tolist() == [0, 0]


@settings(max_examples=300, deadline=None)
@given(strategies.lists(strategies.text(max_size=40), min_size=1, max_size=8))
def test_any_text_reads_back_as_written(texts):
  assert round_trip(texts) == [normalised(t) for t in texts]


@pytest.mark.skipif(not os.path.exists(os.path.join(MULTI30K, "train.de.gz")), reason="no shared multi30k")
@pytest.mark.parametrize("language", ["de", "en"])
def test_every_multi30k_sentence_reads_back_as_written(language):
  for split in ("train", "val", "test_2016_flickr"):
    with gzip.open(os.path.join(MULTI30K, f"{split}.{language}.gz"), "rt", encoding="utf-8") as f:
      lines = f.read().split("\n")
    for start in range(0, len(lines), 8192):
      batch = lines[start:start + 8192]
      assert round_trip(batch) == [normalised(t) for t in batch], split


def test_byte_pair_merges_in_the_graph_equal_the_reference_and_stay_reversible():
  text = ["the lower newest widest", "lowest low newer wider", "a new low, the newest!"] * 20
  counts = collections.Counter(t.decode() for row in tokenize(tf.constant(text)).to_list() for t in row)
  merges = learn_bpe(counts, 30)
  assert merges[0] == ("w", "e") and len(merges) == 24   # "we" (lower, newest, ...) first; then no pair repeats
  assert merges == learn_bpe(counts, 30)   # deterministic
  tokens = tokenize(tf.constant(text[:3] + ["unseen zebras", ""]))
  units = Subwords(merges)(tokens)
  expected = [[u for t in row for u in apply_bpe(t.decode(), merges)] for row in tokens.to_list()]
  assert [[u.decode() for u in row] for row in units.to_list()] == expected
  assert [t.decode() for t in detokenize(units).numpy()] == [normalised(t) for t in text[:3]] + ["unseen zebras", ""]
  assert apply_bpe("▁lowest", merges) != list("▁lowest")   # learned units are used


def test_subwords_run_inside_a_saved_model(tmp_path):
  merges = [("▁", "a"), ("▁a", "b")]
  subwords = Subwords(merges)

  class Module(tf.Module):
    def __init__(self):
      super().__init__()
      self.subwords = subwords

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def units(self, text):
      return self.subwords(tokenize(text)).to_tensor("")

  tf.saved_model.save(Module(), str(tmp_path / "m"))
  loaded = tf.saved_model.load(str(tmp_path / "m"))
  assert [[u.decode() for u in row] for row in loaded.units(tf.constant(["ab abc"])).numpy()] == [["▁ab", "▁ab", "c"]]
