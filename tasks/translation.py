"""Translation (tfds multi30k, or a user's --data_file of tab-separated pairs): seq2seq, beam search, sacreBLEU.

The units are byte-pair subwords learned from each training side (--text_units=subword, the default) or
whole words and punctuation marks (word; a word seen fewer than --min_count times in training is unknown),
over reversible tokens (tasks/tokenization.py). Both vocabularies live inside the model's export, which
translates raw strings. Training is teacher-forced with label smoothing; the test figures are perplexity (teacher
forced, no smoothing) and sacreBLEU of beam-search translations (cased, and lowercased) against
the raw reference sentences.
"""

import collections
import logging
import os

import keras
import numpy as np
import tensorflow as tf

from common.errors import UserError
from common.files import load_or_make_json, read_data_file
from common.progress import Progress
from common.settings import Setting
from models import IOSpec
from models.decoding import beam_search
from models.topologies.seq2seq import DECODER_INPUT, Decoder
from tasks import tfds_data, tokenization
from tasks.base import DATA_FILE_SPLIT, Report, Task, data_file_shares, split_by_shares
from tasks.builders import multi30k
from tasks.token_loss import PADDING, TokenCrossEntropy, losses_and_mask

log = logging.getLogger("rnnzoo")

UNKNOWN, START, END = 1, 2, 3      # ids; 0 is padding; words start at 4
LABEL_SMOOTHING = 0.1
SOURCE = "source_ids"
SAMPLES = 5                        # test translations evaluate.py shows
BUCKETS = (8, 10, 12, 14, 16, 18, 20, 23, 26, 30, 35, 42, 52, 70)   # training batch lengths, in units


def _pair_length(inputs, targets):
  """What a pair adds to its batch's length: its longer side, in units (the target with its </s>)."""
  return tf.maximum(tf.shape(inputs[SOURCE])[-1], tf.shape(targets)[-1])


class Translation(Task):
  name = "translation"
  tfds_name = "multi30k"
  topologies = ("seq2seq",)
  decodes_tokens = True
  monitor = ("perplexity", "min")
  reads_data_file = True
  options = {
      "direction": Setting("de-en", "translation: source-target languages of multi30k.", ("de-en", "en-de")),
      "beam_size": Setting(5, "translation: beam width of the test BLEU and of the export's serve (evaluate.py: of "
                              "its BLEU).", at_least=1, note="1: greedy", resumable=True, evaluate=True),
      "length_alpha": Setting(1.0, "translation: beam search ranks finished translations by log-probability / "
                                   "length**alpha (test BLEU, the export's serve; evaluate.py: its BLEU). "
                                   "benchmarks/search_settings.py compares values on validation.",
                              at_least=0, note="0: no length normalisation", resumable=True, evaluate=True),
      "min_count": Setting(2, "translation, tagging: training occurrences a word needs to enter the vocabulary "
                              "(rarer words read as unknown; translation: word units only).", at_least=1),
      "text_units": Setting("subword", "translation: what the model reads and writes: word (words and punctuation "
                                    "marks) or subword (byte-pair units learned from the training side).",
                            ("word", "subword")),
      "subword_merges": Setting(8000, "translation: byte-pair merges learned per side (--text_units=subword).",
                                at_least=1),
      "source_column": Setting(0, "translation: the --data_file column (0 or 1) that is the source; the other is "
                                  "the target (corpora often come as English<TAB>other).", at_least=0, at_most=1),
      # A batch is as long as its longest sentence: one 600-word line in a corpus of 12-word sentences made training
      # take 13.9 GB instead of 0.7 GB. Multi30k's longest sentence has 40 tokens.
      "max_length": Setting(100, "translation: training pairs with a side longer than this many tokens are left out "
                                 "(validation and test keep every pair).", at_least=1),
      "data_file_split": DATA_FILE_SPLIT,
  }

  def __init__(self, data, options=None):
    super().__init__(data, options)
    self._pairs = None
    self._kept = None
    self._encoded = {}
    self._batch_sizes = {}
    self.vocabularies = None

  def dataset_name(self):
    return self.data.data_file or f"{self.tfds_name} ({self.options['direction']})"

  # -- data -------------------------------------------------------------------------------------

  def check_data(self, batch_size=None):
    if self.data.data_file:
      self.pairs()
    else:
      tfds_data.ensure_prepared(self.tfds_name, self.data, multi30k.MANUAL_FILES)

  def _read_file(self):
    path = self.data.data_file
    shares = data_file_shares(self.options["data_file_split"])
    # Split on newlines only: str.splitlines() also breaks at \x0c, \x85 or \u2028 inside a sentence.
    lines = read_data_file(path, encoding=self.data.encoding).removesuffix("\n").split("\n")
    pairs = []
    for number, line in enumerate(lines, start=1):
      fields = line.split("\t")
      if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
        raise UserError(f"--data_file={path}, line {number}: expected two tab-separated sentences (both non-empty; "
                        f"more columns are ignored), found {line[:80]!r}.")
      source = self.options["source_column"]
      pairs.append((fields[source].strip(), fields[1 - source].strip()))
    splits = split_by_shares(pairs, shares)
    if min(len(rows) for rows in splits.values()) < 1:
      raise UserError(f"--data_file={path} holds {len(pairs)} pairs, too few for train, validation and test "
                      f"splits of --data_file_split={self.options['data_file_split']}.")
    return {split: ([s for s, _ in rows], [t for _, t in rows]) for split, rows in splits.items()}

  def pairs(self):
    """{split: (source sentences, target sentences)}."""
    if self._pairs is None:
      if self.data.data_file:
        self._pairs = self._read_file()
      else:
        source, target = self.options["direction"].split("-")
        self._pairs = {}
        for split in ("train", "validation", "test"):
          rows = list(tfds_data.load(self.tfds_name, split, self.data, multi30k.MANUAL_FILES, supervised=False).as_numpy_iterator())
          self._pairs[split] = ([r[source].decode("utf-8") for r in rows], [r[target].decode("utf-8") for r in rows])
    return self._pairs

  def tuned_defaults(self, spec):
    # The recipe of docs/design.md ("Recipes") at a width two CPU cores train in about an hour; measured in
    # docs/results.md. Dropout takes whole embedding channels, not whole words: a dropped source word could only
    # be guessed. Tied embeddings: on 29,000 pairs a target unit's one vector learns from every time it is read
    # and written, which its own head row alone would not.
    return {"units": 256, "embedding_dim": 256, "dropout": 0.3, "embedding_dropout": "channel", "batch_size": 64,
            "learning_rate": 2e-3, "lr_decay": 0.85, "clipnorm": 1.0, "epochs": 15, "patience": 3,
            "tie_embeddings": True}

  def _count_units(self, sentences, merges=None):
    """{unit: training occurrences}: the reversible tokens of the sentences, or their subwords under `merges`."""
    counts = collections.Counter()
    progress = Progress("Counting the vocabulary", len(sentences), unit="sentences")
    subwords = tokenization.Subwords(merges) if merges is not None else None
    for start in range(0, len(sentences), 4096):
      units = tokenization.tokenize(tf.constant(sentences[start:start + 4096]))
      for row in (subwords(units) if subwords else units).to_list():
        counts.update(unit.decode("utf-8") for unit in row)
      progress.update(len(sentences[start:start + 4096]))
    progress.close()
    return counts

  def _make_vocabularies(self):
    """{side: units, most frequent first} and, for subwords, {"merges": {side: [[left, right], ...]}}."""
    vocabularies = {}
    for side, sentences in zip(("source", "target"), self.pairs()["train"]):
      if self.options["text_units"] == "subword":
        merges = tokenization.learn_bpe(self._count_units(sentences), self.options["subword_merges"])
        vocabularies.setdefault("merges", {})[side] = [list(pair) for pair in merges]
        counts, least = self._count_units(sentences, merges), 1
      else:
        counts, least = self._count_units(sentences), self.options["min_count"]
      vocabularies[side] = [u for u, c in sorted(counts.items(), key=lambda uc: (-uc[1], uc[0])) if c >= least]
    return vocabularies

  def prepare(self, artifacts_dir, batch_size=None):
    self.vocabularies = load_or_make_json(os.path.join(artifacts_dir, "vocabulary.json"), self._make_vocabularies)
    merges = self.vocabularies.get("merges", {})
    self.subwords = {side: tokenization.Subwords([tuple(pair) for pair in merges[side]], name=f"{side}_subwords")
                     for side in merges}
    # ids: 0 padding, 1 unknown, 2 start, 3 end, then units (most frequent first)
    self.lookups = {side: keras.layers.StringLookup(vocabulary=["<s>", "</s>", *self.vocabularies[side]],
                                                    mask_token="", num_oov_indices=1, name=f"{side}_words")
                    for side in ("source", "target")}
    self.target_words = tf.constant(["", "<unk>", "<s>", "</s>", *self.vocabularies["target"]])
    sizes = {side: len(self.vocabularies[side]) + 4 for side in ("source", "target")}
    return IOSpec("tokens", sizes["source"], sizes["target"], input_name=SOURCE, decoder_vocab=sizes["target"])

  def units(self, side, sentences):
    """[n] strings -> ragged [n, units] strings: reversible tokens, or their subwords."""
    tokens = tokenization.tokenize(sentences)
    return self.subwords[side](tokens) if side in self.subwords else tokens

  def ids(self, side, sentences):
    """[n] strings -> ragged [n, units] ids."""
    return tf.cast(self.lookups[side](self.units(side, sentences)), tf.int32)

  def _teacher_forced(self, sources, targets):
    """Ragged model inputs and targets of [n] pairs: the decoder reads <s> + target and predicts target + </s>."""
    target_ids = self.ids("target", targets)
    rows = target_ids.nrows()
    decoder_inputs = tf.concat([tf.fill([rows, 1], START), target_ids], axis=1)
    decoder_targets = tf.concat([target_ids, tf.fill([rows, 1], END)], axis=1)
    return {SOURCE: self.ids("source", sources), DECODER_INPUT: decoder_inputs}, decoder_targets

  def _token_counts(self, sentences):
    return [len(row) for start in range(0, len(sentences), 4096)
            for row in tokenization.tokenize(tf.constant(sentences[start:start + 4096])).to_list()]

  def _training_pairs(self):
    """The training pairs whose sides both fit --max_length tokens, with a note of how many were left out."""
    if self._kept is None:
      sources, targets = self.pairs()["train"]
      longest = map(max, self._token_counts(sources), self._token_counts(targets))
      keep = [i for i, length in enumerate(longest) if length <= self.options["max_length"]]
      if len(keep) < len(sources):
        log.warning("Left out %d of %d training pairs with a side longer than --max_length=%d tokens.",
                    len(sources) - len(keep), len(sources), self.options["max_length"])
      self._kept = ([sources[i] for i in keep], [targets[i] for i in keep])
    return self._kept

  def _split_pairs(self, split):
    """(sources, targets) a split trains or evaluates on: training leaves out the pairs longer than --max_length."""
    return self._training_pairs() if split == "train" else self.pairs()[split]

  def _examples(self, split):
    """The split's pairs, one (model inputs, targets) each, tokenized once and kept: subword segmentation is the
    costly part of the pipeline, and it gives the same ids every epoch."""
    if split not in self._encoded:
      sources, targets = self._split_pairs(split)
      ds = tf.data.Dataset.from_tensor_slices((sources, targets)).batch(4096).map(self._teacher_forced).unbatch()
      # A mapped element is a plain tensor again (a sliced RaggedTensor is not, and cannot be padded into a batch).
      self._encoded[split] = ds.map(lambda inputs, targets: (inputs, targets)).cache()
    return self._encoded[split]

  def _bucket_batch_sizes(self, batch_size):
    """Training pairs per batch in each length bucket: batch_size x the mean pair's length / the bucket's, so a batch
    of short pairs holds more of them and every batch about as many units as a random batch of batch_size.

    The loss is a mean over each batch's units, so with as many pairs in every batch a unit of a short pair would
    weigh about three times one of a long pair. Batches of equal units are how tensor2tensor and fairseq
    (--max_tokens) batch; docs/results.md compares the two with random batches."""
    if batch_size not in self._batch_sizes:
      lengths = np.concatenate(list(self._examples("train").map(_pair_length).batch(4096).as_numpy_iterator()))
      bucket = np.searchsorted(BUCKETS, lengths, side="right")
      sizes = []
      for b in range(len(BUCKETS) + 1):
        members = lengths[bucket == b]
        sizes.append(max(1, round(batch_size * lengths.mean() / members.mean())) if len(members) else batch_size)
      self._batch_sizes[batch_size] = sizes
    return self._batch_sizes[batch_size]

  def dataset(self, split, batch_size, shuffle_seed=None):
    ds = self._examples(split)
    if shuffle_seed is not None:
      ds = ds.shuffle(len(self._split_pairs(split)[0]), seed=shuffle_seed, reshuffle_each_iteration=False)
    if split == "train":
      # Training batches gather pairs of like length, as OpenNMT's and fairseq's do: a batch is as long as its
      # longest pair, and random batches of Multi30k's subwords compute 2.07 units per real one, these about 1.1
      # (docs/results.md). Evaluation batches keep the split's order, so its figures do not depend on batching.
      ds = ds.bucket_by_sequence_length(_pair_length, bucket_boundaries=list(BUCKETS),
                                        bucket_batch_sizes=self._bucket_batch_sizes(batch_size))
    else:
      ds = ds.padded_batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)

  # -- loss and metrics -------------------------------------------------------------------------

  def per_example_loss(self, targets, outputs):
    """Label-smoothed cross-entropy summed over each row's tokens, scaled so the batch mean is per token."""
    log_probs = tf.nn.log_softmax(outputs)
    nll = -tf.gather(log_probs, targets, batch_dims=2)
    smoothed = (1 - LABEL_SMOOTHING) * nll - LABEL_SMOOTHING * tf.reduce_mean(log_probs, axis=-1)
    mask = tf.cast(targets != PADDING, smoothed.dtype)
    tokens_per_row = tf.reduce_sum(mask) / tf.cast(tf.shape(targets)[0], smoothed.dtype)
    return tf.reduce_sum(smoothed * mask, axis=1) / tf.maximum(tokens_per_row, 1.0)

  def metrics(self):
    return {"perplexity": TokenCrossEntropy("perplexity", tf.exp)}

  # -- translating ------------------------------------------------------------------------------

  def _translator(self, model):
    """(sentences [n], beam_size, length_alpha) -> translations [n], inside the graph."""
    decoder = Decoder(model, SOURCE)

    def translate(source, beam_size, length_alpha):
      ids = self.ids("source", source)
      checks = [tf.debugging.assert_positive(ids.row_lengths(), message="every source sentence needs a word "
                                                                        "(an empty string cannot be translated)"),
                tf.debugging.assert_positive(beam_size, message="beam_size must be >= 1")]
      with tf.control_dependencies(checks):
        ids, beam_size = ids.to_tensor(), tf.identity(beam_size)

      def search():
        memory, states = decoder.start(ids)
        out = beam_search(decoder.step, memory, states, START, END, max_length=tf.shape(ids)[1] * 2 + 10,
                          beam_size=beam_size, length_alpha=length_alpha, banned=(PADDING, UNKNOWN, START))
        return tokenization.detokenize(tf.ragged.boolean_mask(tf.gather(self.target_words, out), out > END))

      # An empty batch translates to an empty batch, as every other export answers one.
      return {"translation": tf.cond(tf.size(source) > 0, search, lambda: tf.zeros([0], tf.string))}

    return translate

  def _scorer(self, model):
    def score(source, target):
      """Teacher-forced nats of each target (its units and </s>) given its source, how many units that is, and how
      many words (reversible tokens, and </s>: what perplexity per word divides by, whatever the units)."""
      inputs, targets = self._teacher_forced(source, target)
      inputs, targets = {name: ids.to_tensor() for name, ids in inputs.items()}, targets.to_tensor()
      losses, mask = losses_and_mask(targets, model(inputs, training=False))
      words = tf.cast(tokenization.tokenize(target).row_lengths(), tf.int32) + 1
      return {"nats": tf.reduce_sum(losses * mask, axis=1), "tokens": tf.reduce_sum(tf.cast(mask, tf.int32), axis=1),
              "words": words}

    return score

  def serving_endpoint(self, model):
    translate, search = self._translator(model), self._search_settings()
    return ((lambda source: translate(source, *search)), [tf.TensorSpec([None], tf.string, name="source")],
            [*self.lookups.values(), *(subwords.ranks for subwords in self.subwords.values())])

  def extra_endpoints(self, model):
    return {"translate": (self._translator(model), [tf.TensorSpec([None], tf.string, name="source"),
                                                    tf.TensorSpec([], tf.int32, name="beam_size"),
                                                    tf.TensorSpec([], tf.float32, name="length_alpha")]),
            "score": (self._scorer(model), [tf.TensorSpec([None], tf.string, name="source"),
                                            tf.TensorSpec([None], tf.string, name="target")])}

  def _search_settings(self):
    return tf.constant(self.options["beam_size"]), tf.constant(float(self.options["length_alpha"]))

  def translate_served(self, served, source):
    """Translations [n] of sentences [n] through an export's translate endpoint, with this task's beam settings."""
    beam_size, length_alpha = self._search_settings()
    try:
      return served.translate(source=source, beam_size=beam_size, length_alpha=length_alpha)["translation"]
    except (TypeError, ValueError) as e:   # what a restored function says to an input it was not written with
      if "length_alpha" not in str(e):
        raise
      raise UserError("this export's translate endpoint takes no length_alpha: an earlier RNN Zoo wrote it. Delete "
                      "the run's export/ folder and run its train.py command again: a completed run is exported "
                      "again from its best weights.") from None

  def bleu(self, translate, split="test", batch_size=100):
    """Cased and lowercased sacreBLEU of `translate` (sentences -> translations) on a split: a Report with both
    figures and their signatures, and the translations."""
    import sacrebleu  # here, not at the top: only runs that score translations pay for importing it

    sources, references = self.pairs()[split]
    hypotheses = []
    progress = Progress(f"Translating the {split} split (beam {self.options['beam_size']})", len(sources),
                        unit="sentences")
    for start in range(0, len(sources), batch_size):
      batch = translate(tf.constant(sources[start:start + batch_size]))
      hypotheses += [t.decode("utf-8") for t in batch.numpy()]
      progress.update(len(batch))
    progress.close()
    cased, lowercase = sacrebleu.BLEU(), sacrebleu.BLEU(lowercase=True)
    scored = cased.corpus_score(hypotheses, [references])
    search = f"beam {self.options['beam_size']} length_alpha {self.options['length_alpha']:g}"
    report = Report({"bleu": scored.score, "bleu_lowercase": lowercase.corpus_score(hypotheses, [references]).score,
                     "length_ratio": scored.ratio},
                    info={"bleu": f"{cased.get_signature()} {search}",
                          "bleu_lowercase": f"{lowercase.get_signature()} {search}"})
    return report, hypotheses

  def epoch_report(self, model):
    """Greedy translations of the first validation sentences."""
    sources, references = (part[:SAMPLES] for part in self.pairs()["validation"])
    translations = self._translator(model)(tf.constant(sources), tf.constant(1), tf.constant(0.0))["translation"]
    translations = translations.numpy()
    return Report(samples=[{"source": s, "reference": r, "translation": t.decode("utf-8")}
                           for s, r, t in zip(sources, references, translations)])

  def _perplexities(self, score, batch_size):
    """Test perplexity per unit (what the loop reports and early stopping watches) and per word (comparable
    between word and subword units): teacher-forced nats of the references through `score`."""
    sources, references = self.pairs()["test"]
    nats = units = words = 0.0
    for start in range(0, len(sources), batch_size):
      scored = score(tf.constant(sources[start:start + batch_size]), tf.constant(references[start:start + batch_size]))
      nats += float(tf.reduce_sum(scored["nats"]))
      units += float(tf.reduce_sum(scored["tokens"]))
      words += float(tf.reduce_sum(scored["words"]))
    return {"perplexity": float(np.exp(nats / units)), "perplexity_per_word": float(np.exp(nats / words))}

  def decoded_report(self, model):
    translate, search = tf.function(self._translator(model), reduce_retracing=True), self._search_settings()
    report, _ = self.bleu(lambda source: translate(source, *search)["translation"])
    report.metrics["perplexity_per_word"] = self._perplexities(tf.function(self._scorer(model)),
                                                               100)["perplexity_per_word"]
    return report

  def evaluate_served(self, served, batch_size, settings=None):
    """Test BLEU (beam --beam_size) and perplexity through the export's translate and score endpoints, and the
    first test sentences' translations."""
    report, hypotheses = self.bleu(lambda source: self.translate_served(served, source), batch_size=batch_size)
    sources, references = self.pairs()["test"]
    report.metrics |= self._perplexities(lambda source, target: served.score(source=source, target=target),
                                         batch_size)
    report.samples = [{"source": s, "reference": r, "translation": t}
                      for s, r, t in list(zip(sources, references, hypotheses))[:SAMPLES]]
    return report
