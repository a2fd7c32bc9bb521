"""Word-level language modelling (tfds imdb_reviews' unlabelled text, or a user's --data_file): predict the next word.

Each document (a review; a line of a --data_file) is read from its start, from a zero state, and every word after
the first is predicted from the words before it: the way a classifier fine-tuned from the model (train.py
--init_from) reads a review. With --backwards every document is read from its end instead, a backward language
model: what initialises a bidirectional classifier's backward direction (ULMFiT trains one of each).

Words are tasks/words.py's, the sentiment task's: the vocabulary (fitted on the training documents, most
frequent first) is inside the export and travels to a fine-tuned run. Perplexity per word is exp of the mean
nats over every predicted word of a split, a word outside the vocabulary counted as the unknown token (a closed
vocabulary, as the literature counts it). The softmax over the vocabulary is sampled in training
(--sampled_softmax; models/sampled_softmax.py) and exact everywhere else.

IMDB's splits: the language model learns from the labelled training reviews that the sentiment task trains on
(its first 90 %) and 96 % of the 50,000 unlabelled ones; it is validated and tested on the other unlabelled
reviews. It never reads the sentiment task's validation reviews (so a fine-tuned classifier is chosen on reviews
the language model never saw) nor any test review.
"""

import math

import numpy as np
import tensorflow as tf

from common.errors import UserError
from common.files import read_data_file
from common.progress import Progress
from common.settings import Setting
from models import IOSpec
from models.topologies.many_to_many import NEXT_IDS
from tasks import generation, tfds_data, words
from tasks.base import SAMPLING_TEMPERATURE, Report, Task
from tasks.token_loss import PADDING, TokenCrossEntropy

SPLITS = {"train": "train[:90%]+unsupervised[:96%]", "validation": "unsupervised[96%:98%]",
          "test": "unsupervised[98%:]"}
MANUAL_FILES = ("aclImdb_v1.tar.gz",)
FILE_SPLITS = (0.9, 0.05, 0.05)   # a --data_file's lines, in order: train, validation, test
BUCKETS = (32, 64, 128, 192, 256, 384, 512, 640)
MAX_WORDS = 10_000                # most words one serving call generates
EPOCH_SAMPLE = (12, 40)           # TensorBoard's sample after each epoch: prime words, generated words


class LanguageModel(Task):
  name = "language_model"
  tfds_name = "imdb_reviews/plain_text"
  topologies = ("many_to_many",)
  monitor = ("nats_per_word", "min")
  causal_because = "it predicts each word from the words before it, so it must not read the words after"
  reads_data_file = True
  tokens = words.TOKENS
  vocabulary_files = (words.VOCABULARY_FILE,)
  options = {
      "dataset": Setting("imdb_reviews", "language_model: the tfds text it learns from (ignored with --data_file: "
                                         "one document per line).", ("imdb_reviews",)),
      "vocab_size": Setting(20_000, "language_model: the most frequent training words kept (the rest read as one "
                                    "unknown token).", at_least=3, note="padding, unknown and one word"),
      "max_tokens": Setting(800, "language_model: words read of each document, from its start.", at_least=0,
                            note="0: all"),
      "sampled_softmax": Setting(1024, "language_model: candidates sampled for the training softmax (log-uniform, "
                                       "as the vocabulary is ordered by frequency); evaluation is exact.",
                                 at_least=0, note="0: the exact softmax in training too"),
      "backwards": Setting(False, "language_model: read every document from its end (a backward language model, "
                                  "to initialise a bidirectional model's backward direction)."),
      **generation.settings("language_model", "words", "word", 50, MAX_WORDS),
  }

  def __init__(self, data, options=None):
    super().__init__(data, options)
    self.vectorizer = None
    self._documents = None
    self._encoded = {}

  def reads_backwards(self):
    return self.options["backwards"]

  def dataset_name(self):
    return self.data.data_file or self.options["dataset"]

  def check_data(self, batch_size=None):
    if self.data.data_file:
      self.documents()   # reads and splits the file once, failing on a bad one
    else:
      tfds_data.ensure_prepared(self.tfds_name, self.data, MANUAL_FILES)

  def tuned_defaults(self, spec):
    # One 512-unit layer over 256-wide embeddings, as Dai & Le 2015 pretrain on IMDB; dropout between the
    # embedding, the layer and the softmax as Zaremba et al. 2014 place it.
    return {"units": 512, "embedding_dim": 256, "dropout": 0.2, "batch_size": 32, "learning_rate": 1e-3,
            "lr_decay": 0.8, "clipnorm": 1.0, "epochs": 10, "patience": 2}

  # -- data -------------------------------------------------------------------------------------

  def documents(self):
    """A --data_file's documents (its non-empty lines) split in order into {split: [str]}."""
    if self._documents is None:
      path = self.data.data_file
      lines = [line for line in read_data_file(path, encoding=self.data.encoding).split("\n") if line.strip()]
      ends = np.cumsum([int(len(lines) * share) for share in FILE_SPLITS[:2]])
      self._documents = dict(zip(("train", "validation", "test"), np.split(np.array(lines, object), ends)))
      if min(len(d) for d in self._documents.values()) < 1:
        raise UserError(f"--data_file={path} holds {len(lines)} non-empty lines; a language model reads one "
                        "document per line and needs enough for 90/5/5 train/validation/test splits of at least "
                        "one line each (20+).")
    return self._documents

  def texts(self, split):
    """The split's documents as a dataset of strings."""
    if self.data.data_file:
      return tf.data.Dataset.from_tensor_slices(list(self.documents()[split]) or [""])
    return tfds_data.load(self.tfds_name, SPLITS[split], self.data, MANUAL_FILES).map(lambda text, label: text)

  def prepare(self, artifacts_dir, batch_size=None):
    self.vectorizer = words.load_or_fit(artifacts_dir, self.options["vocab_size"],
                                        lambda: self.texts("train").batch(1024), "the training documents")
    size = self.vectorizer.vocabulary_size()
    return IOSpec("tokens", size, size, input_name="token_ids", sampled_softmax=self.options["sampled_softmax"])

  def token_ids(self, text, whole=False):
    """Strings [N] -> ragged int32 ids [N, (<= --max_tokens, or all if whole)], in reading order (reversed with
    --backwards). A document is read from its start; a prime is read whole, so generation goes on from its end."""
    ids = tf.cast(self.vectorizer(text), tf.int32)
    if self.options["max_tokens"] and not whole:
      ids = ids[:, :self.options["max_tokens"]]
    return _reverse_rows(ids) if self.options["backwards"] else ids

  def _encoded_split(self, split):
    if split not in self._encoded:
      ds = self.texts(split).batch(1024).map(self.token_ids).unbatch()
      ds = ds.filter(lambda ids: tf.shape(ids)[0] >= 2)   # a one-word document has nothing to predict
      self._encoded[split] = ds.map(lambda ids: ({"token_ids": ids[:-1], NEXT_IDS: ids[1:]}, ids[1:])).cache()
    return self._encoded[split]

  def dataset(self, split, batch_size, shuffle_seed=None):
    ds = self._encoded_split(split)
    if shuffle_seed is not None:
      ds = ds.shuffle(100_000, seed=shuffle_seed, reshuffle_each_iteration=False)
    ds = ds.bucket_by_sequence_length(lambda inputs, targets: tf.shape(targets)[0], bucket_boundaries=list(BUCKETS),
                                      bucket_batch_sizes=[batch_size] * (len(BUCKETS) + 1))
    return ds.prefetch(tf.data.AUTOTUNE)

  # -- loss and metrics -------------------------------------------------------------------------

  def per_example_loss(self, targets, outputs):
    """Each row's summed nats over the batch's mean words per row: the batch mean is nats per word, as the metric
    counts it, however unequal the documents' lengths."""
    mask = tf.cast(targets != PADDING, outputs.dtype)
    words_per_row = tf.reduce_sum(mask) / tf.cast(tf.shape(targets)[0], mask.dtype)
    return -tf.reduce_sum(outputs * mask, axis=-1) / tf.maximum(words_per_row, 1.0)

  def metrics(self):
    return {"nats_per_word": TokenCrossEntropy("nats_per_word", from_log_probs=True),
            "perplexity": TokenCrossEntropy("perplexity", math.exp, from_log_probs=True)}

  def training_metrics(self):
    """In training the head gives the sampled softmax's estimate, well below the exact nats per word: named so."""
    if not self.options["sampled_softmax"]:
      return self.metrics()
    return {"sampled_nats_per_word": TokenCrossEntropy("sampled_nats_per_word", from_log_probs=True)}

  # -- serving ----------------------------------------------------------------------------------

  def serving_endpoint(self, model):
    """serving_default takes batches (TF Serving's row format): a prime, a length and a temperature per row."""
    (serve, signature), _ = generation.endpoints(self._generator(model), "words")
    return serve, signature, [self.vectorizer]

  def extra_endpoints(self, model):
    _, generate_one = generation.endpoints(self._generator(model), "words")
    return {"generate": generate_one, "score": (self._scorer(model), [tf.TensorSpec([None], tf.string, name="text")])}

  def _generator(self, model):
    """Generation in reading order: a backward model reads the prime from its end and writes the words before it."""
    self.vectorizer(tf.constant(["warm up the lookup table before export"]))
    generate = generation.generator(model, lambda text: self.token_ids(text, whole=True),
                                    self.vectorizer.get_vocabulary()[2:], " ", MAX_WORDS,
                                    "words", "word")
    if not self.options["backwards"]:
      return generate

    def generate_before(prime, count, temperature, top_k):
      written = tf.strings.split(generate(prime, count, temperature, top_k)["text"])
      return {"text": tf.strings.reduce_join(_reverse_rows(written), axis=1, separator=" ")}

    return generate_before

  def _scorer(self, model):
    def score(text):
      """Each text's words (as training reads them: at most --max_tokens) read from a zero state: the nats of
      predicting words 2..n, and how many were predicted."""
      ids = words.at_least_one_step(self.token_ids(text).to_tensor())
      ids = tf.pad(ids, [[0, 0], [0, 1]])   # >= 2 steps: one read, one predicted (padding, not counted)
      log_probs = model({"token_ids": ids[:, :-1], NEXT_IDS: ids[:, 1:]}, training=False)
      predicted = tf.cast(ids[:, 1:] != PADDING, tf.float32)
      return {"nats": -tf.reduce_sum(log_probs * predicted, axis=1),
              "predicted_words": tf.reduce_sum(tf.cast(predicted, tf.int32), axis=1)}

    return score

  def epoch_report(self, model):
    """A passage generated after a validation document's first words (a backward model: before its last words), at
    the evaluation temperature."""
    document = next(iter(self.texts("validation").take(1))).numpy().decode("utf-8").split()
    prime = " ".join(document[-EPOCH_SAMPLE[0]:] if self.options["backwards"] else document[:EPOCH_SAMPLE[0]]) or "the"
    text = tf.function(self._generator(model))(tf.constant([prime]), tf.constant([EPOCH_SAMPLE[1]]),
                                               tf.constant([SAMPLING_TEMPERATURE.default]), tf.constant(0))["text"]
    return Report(samples=[{"prime": prime, "generated": text.numpy()[0].decode("utf-8")}])

  def evaluate_served(self, served, batch_size, settings=None):
    """Test perplexity through the export's score endpoint on the raw test documents; with --prime, a sample."""
    nats, count = 0.0, 0
    progress = Progress("Scoring the test documents with the export", unit="batches")
    for batch in self.texts("test").batch(batch_size):
      scored = served.score(text=batch)
      nats += float(tf.reduce_sum(scored["nats"]))
      count += int(tf.reduce_sum(scored["predicted_words"]))
      progress.update(1, [("perplexity", math.exp(nats / max(count, 1)))])
    progress.close()
    report = Report({"nats_per_word": nats / max(count, 1), "perplexity": math.exp(nats / max(count, 1))})
    settings = self.evaluation_settings(settings)
    if settings["prime"] is not None:
      text = generation.sample(served, settings, "words")
      sample = f"{text} {settings['prime']}" if self.options["backwards"] else f"{settings['prime']} {text}"
      report.samples.append({"prime": settings["prime"], "text": sample})
      report.info["sample"] = (f"temperature {settings['temperature']:g}, top_k {settings['top_k']}; words as the "
                               "model reads them (lowercase, punctuation apart)")
    return report


def _reverse_rows(ragged):
  """Each row of a ragged tensor [N, (n)] reversed."""
  dense = ragged.to_tensor()
  lengths = ragged.row_lengths()
  reversed_ = tf.reverse_sequence(dense, lengths, seq_axis=1, batch_axis=0)
  return tf.RaggedTensor.from_tensor(reversed_, lengths=lengths)
