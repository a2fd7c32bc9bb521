"""Sequence labelling (tfds ud_english_ewt, or a user's tagged --data_file): a label for every word, read with the
context on both sides (synced many-to-many; bidirectional presets are the point).

Out of the box: part-of-speech tags of the English Web Treebank in Universal Dependencies (UPOS, or XPOS with
--tag_scheme=xpos). A user's corpus: one file split by --data_file_split, or three (train, validation, test), in
CoNLL-U or the CoNLL column format (tasks/conll_files.py), e.g. named entities in BIO tags.

Words are looked up in a vocabulary of the training words seen --min_count times; each word's characters are
offered too (a model reads them with --char_units > 0, so unknown words keep their spelling). Both vocabularies
live inside the export, which tags raw sentences (split on white space) or pre-split tokens. Token accuracy counts
every word of the split; when the tags follow a BIO scheme (IOB1, IOB2, IOE, IOBES) precision, recall and F1 of
whole chunks are computed as conlleval computes them (tasks/conlleval.py). With --head=crf the model's scores are
a linear-chain CRF's, trained by its likelihood and decoded by Viterbi in the graph (models/crf.py).
"""

import collections
import os

import numpy as np
import keras
import tensorflow as tf

from common.errors import UserError
from common.files import load_or_make_json
from common.progress import Progress
from common.settings import Setting
from models import IOSpec, crf, feed
from tasks import conll_files, conlleval, tfds_data
from tasks.base import DATA_FILE_SPLIT, Report, Task, data_file_shares, split_by_shares
from tasks.builders import ud_english_ewt

PADDING_TAG = -1          # targets at padded steps
UNKNOWN = 1               # word and character ids; 0 is padding
WORD_START, WORD_END = 2, 3   # character ids around every word's characters (then characters from 4)
MAX_WORD_CHARS = 30       # characters read of a word (URLs and e-mail addresses run to hundreds)
BUCKETS = (8, 16, 24, 32, 48, 64, 96)
SAMPLES = 3               # test sentences evaluate.py shows


class Tagging(Task):
  name = "tagging"
  tfds_name = "ud_english_ewt"
  topologies = ("many_to_many",)
  monitor = ("accuracy", "max")
  reads_data_file = True
  heads = ("softmax", "crf")
  reads_characters = True
  options = {
      "tag_scheme": Setting("upos", "tagging: the tags of UD English EWT and of a CoNLL-U --data_file: upos "
                                    "(universal) or xpos (Penn Treebank).", ("upos", "xpos")),
      "word_column": Setting(0, "tagging: the word column of a column-format --data_file (0-based; negative counts "
                                "from the end)."),
      "tag_column": Setting(-1, "tagging: the tag column of a column-format --data_file (0-based; negative counts "
                                "from the end)."),
      "data_file_split": DATA_FILE_SPLIT,
      "min_count": Setting(2, "translation, tagging: training occurrences a word needs to enter the vocabulary "
                              "(rarer words read as unknown, which teaches the model what to do with one).",
                           at_least=1),
  }

  def __init__(self, data, options=None):
    super().__init__(data, options)
    self._sentences = None
    self._encoded = {}
    self.vocabulary = None

  # -- data -------------------------------------------------------------------------------------

  def check_data(self, batch_size=None):
    if self.data.data_file:
      self.sentences()
    else:
      tfds_data.ensure_prepared(self.tfds_name, self.data, ud_english_ewt.MANUAL_FILES)

  def _read_files(self):
    path = self.data.data_file
    files = conll_files.read_data_files(path, scheme=self.options["tag_scheme"],
                                        word_column=self.options["word_column"],
                                        tag_column=self.options["tag_column"], encoding=self.data.encoding)
    if len(files) == 3:
      splits = dict(zip(("train", "validation", "test"), files))
    else:
      splits = split_by_shares(files[0], data_file_shares(self.options["data_file_split"]))
    empty = [split for split, sentences in splits.items() if not sentences]
    if empty:
      raise UserError(f"--data_file={path} gives no sentence to the {' and '.join(empty)} split(s); give more "
                      "sentences, other --data_file_split shares, or three files (train,validation,test).")
    return splits

  def sentences(self):
    """{split: [(words, tags)]}."""
    if self._sentences is None:
      if self.data.data_file:
        self._sentences = self._read_files()
      else:
        scheme = self.options["tag_scheme"]
        self._sentences = {}
        for split in ("train", "validation", "test"):
          rows = tfds_data.load(self.tfds_name, split, self.data, ud_english_ewt.MANUAL_FILES, supervised=False)
          self._sentences[split] = [([w.decode() for w in row["words"]], [t.decode() for t in row[scheme]])
                                    for row in rows.as_numpy_iterator()]
    return self._sentences

  def tuned_defaults(self, spec):
    # Measured in docs/results.md on UD English EWT: Plank et al. 2016's tagger at CPU-sized widths (words and
    # characters, dropout on both), Adam with a decayed learning rate, early stopping on validation accuracy.
    return {"units": 128, "embedding_dim": 128, "char_units": 64, "dropout": 0.33,
            "batch_size": 32, "learning_rate": 2e-3, "lr_decay": 0.9, "clipnorm": 5.0, "epochs": 20, "patience": 4}

  def _make_vocabulary(self):
    train = self.sentences()["train"]
    counts = collections.Counter(word for words, _ in train for word in words)
    words = [w for w, c in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0])) if c >= self.options["min_count"]]
    characters = sorted({c for words, _ in train for word in words for c in word})
    # The label inventory of every split: a label no training sentence shows can still be scored as missed.
    tags = sorted({tag for sentences in self.sentences().values() for _, tags in sentences for tag in tags})
    return {"words": words, "characters": characters, "tags": tags}

  def prepare(self, artifacts_dir, batch_size=None):
    self.vocabulary = load_or_make_json(os.path.join(artifacts_dir, "vocabulary.json"), self._make_vocabulary)
    self.word_lookup = keras.layers.StringLookup(vocabulary=self.vocabulary["words"], mask_token="",
                                                 num_oov_indices=1, name="words")
    self.char_lookup = keras.layers.StringLookup(vocabulary=["<w>", "</w>", *self.vocabulary["characters"]],
                                                 mask_token="", num_oov_indices=1, name="characters")
    self.tag_names = tf.constant(self.vocabulary["tags"])
    self.tag_lookup = {tag: i for i, tag in enumerate(self.vocabulary["tags"])}
    return IOSpec("tokens", len(self.vocabulary["words"]) + 2, len(self.vocabulary["tags"]), input_name="word_ids",
                  char_vocab=len(self.vocabulary["characters"]) + 4)

  def model_inputs(self, words):
    """Padded words [N, W] strings ("" = padding) -> {"word_ids" [N, W], "char_ids" [N, W, <= 32]}."""
    word_ids = tf.cast(self.word_lookup(words), tf.int32)
    chars = tf.strings.unicode_split(words, "UTF-8", errors="replace")[:, :, :MAX_WORD_CHARS]
    char_ids = tf.cast(self.char_lookup(chars), tf.int32)
    marks = tf.ones_like(char_ids[:, :, :1])
    char_ids = tf.concat([marks * WORD_START, char_ids, marks * WORD_END], axis=2)
    return {"word_ids": word_ids, "char_ids": char_ids.to_tensor()}

  def _examples(self, split):
    if split not in self._encoded:
      sentences = self.sentences()[split]
      words = tf.ragged.constant([w for w, _ in sentences], dtype=tf.string, ragged_rank=1)
      tags = tf.ragged.constant([[self.tag_lookup[t] for t in tags] for _, tags in sentences], dtype=tf.int32,
                                ragged_rank=1)
      # A mapped element is a plain tensor again (a sliced RaggedTensor is not, and cannot be padded into a batch).
      self._encoded[split] = tf.data.Dataset.from_tensor_slices((words, tags)).map(lambda w, t: (w, t))
    return self._encoded[split]

  def dataset(self, split, batch_size, shuffle_seed=None):
    ds = self._examples(split)
    if shuffle_seed is not None:
      ds = ds.shuffle(len(self.sentences()[split]), seed=shuffle_seed, reshuffle_each_iteration=False)
    ds = ds.bucket_by_sequence_length(lambda words, tags: tf.shape(words)[0], bucket_boundaries=list(BUCKETS),
                                      bucket_batch_sizes=[batch_size] * (len(BUCKETS) + 1),
                                      padding_values=("", PADDING_TAG), pad_to_bucket_boundary=False)
    return ds.map(lambda words, tags: (self.model_inputs(words), tags), tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

  # -- loss, decoding and metrics --------------------------------------------------------------------------------

  def per_example_loss(self, targets, outputs):
    """Each sentence's loss over the batch's mean words per sentence, so the batch mean is per word: cross-entropy
    of every word's tag, or the CRF's negative log-likelihood of the sentence's tag path."""
    mask = targets != PADDING_TAG
    gold = tf.maximum(targets, 0)
    if isinstance(outputs, dict):
      losses = crf.nll(outputs["emissions"], outputs["transitions"], gold, mask)
    else:
      per_word = keras.losses.sparse_categorical_crossentropy(gold, outputs, from_logits=True)
      losses = tf.reduce_sum(per_word * tf.cast(mask, per_word.dtype), axis=1)
    words_per_row = tf.reduce_sum(tf.cast(mask, losses.dtype)) / tf.cast(tf.shape(targets)[0], losses.dtype)
    return losses / tf.maximum(words_per_row, 1.0)

  def metrics(self):
    return {"accuracy": TagAccuracy()}

  # -- serving ----------------------------------------------------------------------------------

  def _tagger(self, model):
    """Padded words [N, W] ("" = padding) -> tags [N, W] ("" at padding), each word's tag probability (softmax head)
    or each sentence's Viterbi score (CRF head), the number of words, and which words the vocabulary knows (the
    others were read through their characters only)."""
    self.word_lookup(tf.constant(["a"]))   # fixed-vocabulary lookups must run once before export tracks them
    self.char_lookup(tf.constant(["a"]))

    with_crf = isinstance(model.output, dict)

    def tag_batch(tokens):
      words = _at_least_one_step(tokens)
      mask = words != ""
      inputs = self.model_inputs(words)
      outputs = model(feed(model, inputs), training=False)
      ids, confidence = decode(outputs, mask)
      tags = tf.where(mask, tf.gather(self.tag_names, ids), "")
      result = {"tags": tags, "lengths": tf.reduce_sum(tf.cast(mask, tf.int32), axis=1),
                "known": inputs["word_ids"] > UNKNOWN}
      if with_crf:
        result["score"] = confidence
      else:
        result["probabilities"] = tf.where(mask, confidence, 0.0)
      return result

    def nothing():
      result = {"tags": tf.zeros([0, 0], tf.string), "lengths": tf.zeros([0], tf.int32),
                "known": tf.zeros([0, 0], tf.bool)}
      return result | ({"score": tf.zeros([0])} if with_crf else {"probabilities": tf.zeros([0, 0])})

    def tag(tokens):   # an empty batch is answered with one (a recurrent layer cannot read zero rows)
      return tf.cond(tf.shape(tokens)[0] > 0, lambda: tag_batch(tokens), nothing)

    return tag

  def serving_endpoint(self, model):
    tag = self._tagger(model)

    def serve(sentences):
      """Raw sentences [N] -> their white-space separated words' tags [N, most words]."""
      return tag(tf.strings.split(sentences).to_tensor(""))

    return serve, [tf.TensorSpec([None], tf.string, name="sentences")], [self.word_lookup, self.char_lookup]

  def extra_endpoints(self, model):
    return {"tag_tokens": (self._tagger(model), [tf.TensorSpec([None, None], tf.string, name="tokens")])}

  # -- reports ----------------------------------------------------------------------------------

  def chunk_scheme(self):
    """The BIO-family scheme of the corpus' tags (iob, ioe or iobes), or None (part-of-speech tags)."""
    return conlleval.chunk_scheme([tag for sentences in self.sentences().values() for _, tags in sentences
                                   for tag in tags])

  def _report(self, tag, batch_size):
    """Token accuracy, a per-tag table, the accuracy on words outside the vocabulary and (BIO tags) conlleval's
    chunk figures of `tag` (a tagger's outputs) on the test split."""
    sentences, scheme = self.sentences()["test"], self.chunk_scheme()
    gold, predicted, unknown = [], [], []
    progress = Progress("Tagging the test split", len(sentences), unit="sentences")
    for start in range(0, len(sentences), batch_size):
      batch = sentences[start:start + batch_size]
      width = max(1, max(len(words) for words, _ in batch))
      tokens = tf.constant([words + [""] * (width - len(words)) for words, _ in batch])
      outputs = tag(tokens)
      # Exports written before the "known" output read as all-known: no unknown-word figure, rather than a KeyError.
      knowns = outputs["known"].numpy() if "known" in outputs else np.ones(outputs["tags"].shape, bool)
      for (words, gold_tags), row, known in zip(batch, outputs["tags"].numpy(), knowns):
        gold.append(gold_tags)
        predicted.append([t.decode() for t in row[:len(words)]])
        # Words the vocabulary lacks are where taggers differ most (they are read through their characters only).
        unknown += [g == p for g, p, k in zip(gold_tags, predicted[-1], known) if not k]
      progress.update(len(batch))
    progress.close()
    evaluation = conlleval.evaluate(gold, predicted, scheme) if scheme else None
    report = Report({"accuracy": _accuracy(gold, predicted)}, tables={"per tag": _per_tag(gold, predicted)})
    if unknown:
      report.metrics["accuracy_unknown_words"] = sum(unknown) / len(unknown)
      share = len(unknown) / max(sum(len(words) for words, _ in sentences), 1)
      report.info["accuracy_unknown_words"] = (
          f"the {len(unknown)} test words ({share:.1%}) outside the vocabulary (seen fewer than --min_count="
          f"{self.options['min_count']} times in training)")
    if evaluation:
      overall = evaluation.overall
      report.metrics |= {"precision": overall.precision, "recall": overall.recall, "f1": overall.f1}
      report.info["f1"] = f"chunks of the {scheme} scheme, as conlleval counts them"
      report.tables["per chunk type"] = [{"type": kind or "(none)", "gold": c.gold, "predicted": c.predicted,
                                          "precision": round(c.precision, 4), "recall": round(c.recall, 4),
                                          "f1": round(c.f1, 4)} for kind, c in evaluation.per_type.items()]
    report.samples = [{"words": " ".join(words), "gold": " ".join(g), "predicted": " ".join(p)}
                      for (words, _), g, p in list(zip(sentences, gold, predicted))[:SAMPLES]]
    return report

  def epoch_report(self, model):
    """The first validation sentences, tagged."""
    sentences = self.sentences()["validation"][:SAMPLES]
    width = max(1, max(len(words) for words, _ in sentences))
    tokens = tf.constant([words + [""] * (width - len(words)) for words, _ in sentences])
    tags = self._tagger(model)(tokens)["tags"].numpy()
    return Report(samples=[{"words": " ".join(words), "gold": " ".join(gold),
                            "predicted": " ".join(t.decode() for t in row[:len(words)])}
                           for (words, gold), row in zip(sentences, tags)])

  def decoded_report(self, model):
    if not self.chunk_scheme():   # token accuracy is the loop's own metric; only chunk tags need decoding here
      return Report()
    tag = tf.function(self._tagger(model), reduce_retracing=True)
    report = self._report(tag, 256)
    return Report({k: report.metrics[k] for k in ("precision", "recall", "f1")}, report.info)

  def evaluate_served(self, served, batch_size, settings=None):
    """Test accuracy of every word, a per-tag table and chunk F1 (BIO tags), through the export's tag_tokens."""
    return self._report(lambda tokens: served.tag_tokens(tokens=tokens), batch_size)


def decode(outputs, mask):
  """(tag ids [batch, steps], confidence): the likeliest tag of every word and its probability (softmax head), or
  the best tag path by Viterbi decoding and its score (CRF head)."""
  if isinstance(outputs, dict):
    return crf.viterbi(outputs["emissions"], outputs["transitions"], mask)
  probabilities = tf.nn.softmax(tf.cast(outputs, tf.float32))
  return tf.argmax(probabilities, axis=-1, output_type=tf.int32), tf.reduce_max(probabilities, axis=-1)


class TagAccuracy(keras.metrics.Metric):
  """The share of words (every word of a split, padding excluded) whose decoded tag is the gold one."""

  def __init__(self, name="accuracy"):
    super().__init__(name=name)
    self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
    self.words = self.add_variable(shape=(), initializer="zeros", name="words")

  def update_state(self, targets, outputs):
    mask = targets != PADDING_TAG
    predicted, _ = decode(outputs, mask)
    self.correct.assign_add(tf.reduce_sum(tf.cast((predicted == targets) & mask, tf.float32)))
    self.words.assign_add(tf.reduce_sum(tf.cast(mask, tf.float32)))

  def result(self):
    return self.correct / tf.maximum(self.words, 1.0)


def _at_least_one_step(words):
  """Pads [N, W] words to W >= 1: zero steps crash a recurrent layer; a padding word is masked."""
  return tf.pad(words, [[0, 0], [0, tf.maximum(0, 1 - tf.shape(words)[1])]], constant_values="")


def _accuracy(gold, predicted):
  pairs = [(g, p) for gs, ps in zip(gold, predicted) for g, p in zip(gs, ps)]
  return sum(g == p for g, p in pairs) / max(len(pairs), 1)


def _per_tag(gold, predicted):
  """Per gold/predicted tag: how often it is gold, and the precision, recall and F1 of predicting it."""
  counts = collections.defaultdict(lambda: [0, 0, 0])   # gold, predicted, both
  for gs, ps in zip(gold, predicted):
    for g, p in zip(gs, ps):
      counts[g][0] += 1
      counts[p][1] += 1
      counts[g][2] += g == p
  rows = []
  for tag, (in_gold, in_predicted, both) in sorted(counts.items(), key=lambda kv: -kv[1][0]):
    precision, recall = both / max(in_predicted, 1), both / max(in_gold, 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    rows.append({"tag": tag, "gold": in_gold, "precision": round(precision, 4), "recall": round(recall, 4),
                 "f1": round(f1, 4)})
  return rows
