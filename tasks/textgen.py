"""Character-level language modelling (tfds tiny_shakespeare, or a user's --data_file): predict the next character.

Training reads windows of --sequence_length characters. By default they are independent: shuffled,
each read from a zero state. With --carry_state (truncated BPTT) row b of every batch continues
where row b of the previous batch stopped, and the recurrent state is carried across. Validation and
test stream each split as batch_size contiguous pieces, read start to end in one pass, so every
character but the first is predicted once, with all the context before it in its piece.

The character vocabulary comes from the training text and lives inside the export. Characters
outside it (and invalid UTF-8, read as U+FFFD) are skipped when a prime is read, and never
generated; as prediction targets in scoring they count as the unknown id.
"""

import math
import os

import keras
import numpy as np
import tensorflow as tf

from common.errors import UserError
from common.files import load_or_make_json, read_data_file
from common.settings import Setting
from models import IOSpec
from models.topologies.many_to_many import Generator
from tasks import generation, tfds_data
from tasks.base import SAMPLING_TEMPERATURE, Report, Task
from tasks.token_loss import PADDING, TokenCrossEntropy, losses_and_mask

UNKNOWN = 1     # ids: 0 is padding (token_loss.PADDING); characters start at 2
MANUAL_FILES = ("input.txt",)
CHARACTERS_FILE = "characters.json"   # the run's character vocabulary
FILE_SPLITS = (0.9, 0.05, 0.05)   # a --data_file: first 90% train, next 5% validation, last 5% test
MAX_CHARS = 100_000               # most characters one serving call generates
EPOCH_SAMPLE_CHARS = 300          # generated for TensorBoard after every epoch


class TextGeneration(Task):
  name = "textgen"
  tfds_name = "tiny_shakespeare"
  topologies = ("many_to_many",)
  monitor = ("nats_per_char", "min")
  causal_because = "it reads the text after each character, so it cannot generate"
  reads_data_file = True
  tokens = "characters"
  vocabulary_files = (CHARACTERS_FILE,)
  options = {
      "sequence_length": Setting(128, "textgen: characters per training window (the truncated-BPTT length).",
                                 at_least=2),
      # Measured in docs/results.md: independent windows learn faster per epoch than carried state.
      "carry_state": Setting(False, "textgen: carry the recurrent state across consecutive training windows "
                                    "(truncated BPTT); false (default) trains on shuffled independent windows "
                                    "from a zero state."),
      **generation.settings("textgen", "chars", "character", 500, MAX_CHARS),
  }

  def __init__(self, data, options=None):
    super().__init__(data, options)
    self.characters = None
    self._texts = None
    self._ids = {}

  def check_data(self, batch_size=None):
    if self.data.data_file:
      texts = self.texts()  # reads and splits the file once, failing on a bad one
      length = self.options["sequence_length"]
      # The windows' start moves by up to a window every epoch, so the text must hold one more window than it
      # trains on; carried state needs a whole batch of windows side by side.
      needed = length * ((batch_size or 1) if self.options["carry_state"] else 1) + length
      if len(texts["train"]) < needed:
        whole = int(needed / FILE_SPLITS[0]) + 1
        raise UserError(f"--data_file={self.data.data_file}: its training part (the first 90 %) holds "
                        f"{len(texts['train'])} characters, too few for one training window of --sequence_length="
                        f"{length}" + (f" in each of --batch_size={batch_size} rows" if self.options["carry_state"]
                                       else "") + f"; it needs {needed} (a file of {whole}+ characters). Lower "
                        "--sequence_length or use a longer text.")
    else:
      tfds_data.ensure_prepared(self.tfds_name, self.data, MANUAL_FILES)

  def tuned_defaults(self, spec):
    # Measured in docs/results.md (the 60-minute budget on 2 CPU cores): Karpathy's char-rnn sizes, with
    # dropout between layers and before the head only (dropping whole characters hurt).
    return {"units": 512, "embedding_dim": 64, "dropout": 0.2, "batch_size": 64, "learning_rate": 2e-3,
            "lr_decay": 0.9, "clipnorm": 5.0, "epochs": 12, "patience": 3}

  # -- data -------------------------------------------------------------------------------------

  def _split_file(self):
    path = self.data.data_file
    text = read_data_file(path, encoding=self.data.encoding)
    train_end = int(len(text) * FILE_SPLITS[0])
    validation_end = int(len(text) * sum(FILE_SPLITS[:2]))
    texts = {"train": text[:train_end], "validation": text[train_end:validation_end], "test": text[validation_end:]}
    if not text.strip():
      raise UserError(f"--data_file={path} holds only white space ({len(text)} characters); it needs text to learn.")
    if min(len(t) for t in texts.values()) < 2:
      raise UserError(f"--data_file={path} holds {len(text)} characters; it needs enough for 90/5/5 "
                      "train/validation/test splits of at least 2 characters each (40+).")
    return texts

  def texts(self):
    """{split: the whole text of the split}."""
    if self._texts is None:
      if self.data.data_file:
        self._texts = self._split_file()
      else:
        self._texts = {split: next(iter(tfds_data.load(self.tfds_name, split, self.data, MANUAL_FILES,
                                                       supervised=False)))["text"].numpy().decode("utf-8")
                       for split in ("train", "validation", "test")}
    return self._texts

  def prepare(self, artifacts_dir, batch_size=None):
    self.characters = load_or_make_json(os.path.join(artifacts_dir, CHARACTERS_FILE),
                                        lambda: sorted(set(self.texts()["train"])))
    self.lookup = keras.layers.StringLookup(vocabulary=self.characters, mask_token="", num_oov_indices=1,
                                            name="characters")
    size = len(self.characters) + 2
    stateful = batch_size if self.options["carry_state"] else None
    return IOSpec("tokens", size, size, input_name="char_ids", stateful_batch=stateful, input_dropout=False)

  def ids(self, split):
    """The split as character ids (unknown characters: UNKNOWN)."""
    if split not in self._ids:
      index = {c: i + 2 for i, c in enumerate(self.characters)}
      self._ids[split] = np.array([index.get(c, UNKNOWN) for c in self.texts()[split]], np.int32)
    return self._ids[split]

  def dataset(self, split, batch_size, shuffle_seed=None):
    ids = self.ids(split)
    if split != "train":
      return tf.data.Dataset.from_tensors(_streams(ids, batch_size))
    length = self.options["sequence_length"]
    rng = np.random.default_rng(shuffle_seed)
    start = int(rng.integers(length)) if shuffle_seed is not None else 0  # window borders move every epoch
    if self.options["carry_state"]:
      steps = (len(ids) - 1 - start) // (batch_size * length)
      if steps < 1:
        raise UserError(f"the training text ({len(ids)} characters) is shorter than one batch of "
                        f"--batch_size={batch_size} x --sequence_length={length}; lower them.")
      def consecutive(offset):  # [steps, batch, length]: batch row b reads one contiguous stretch
        return ids[offset:offset + steps * batch_size * length].reshape(batch_size, steps, length).transpose(1, 0, 2)
      return tf.data.Dataset.from_tensor_slices((consecutive(start), consecutive(start + 1)))
    windows = (len(ids) - 1 - start) // length
    order = rng.permutation(windows) if shuffle_seed is not None else np.arange(windows)
    inputs = ids[start:start + windows * length].reshape(windows, length)[order]
    targets = ids[start + 1:start + 1 + windows * length].reshape(windows, length)[order]
    return tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(batch_size)

  # -- loss and metrics -------------------------------------------------------------------------

  def per_example_loss(self, targets, outputs):
    """Each row's summed nats over the batch's mean characters per row: the batch mean is nats per character,
    as the metric counts it, however unequal the rows (a split's last pieces are short)."""
    losses, mask = losses_and_mask(targets, outputs)
    chars_per_row = tf.reduce_sum(mask) / tf.cast(tf.shape(targets)[0], mask.dtype)
    return tf.reduce_sum(losses * mask, axis=-1) / tf.maximum(chars_per_row, 1.0)

  def metrics(self):
    return {"nats_per_char": TokenCrossEntropy("nats_per_char"),
            "bits_per_char": TokenCrossEntropy("bits_per_char", lambda nats: nats / math.log(2))}

  # -- serving ----------------------------------------------------------------------------------

  def _char_ids(self, text):
    return tf.cast(self.lookup(tf.strings.unicode_split(text, "UTF-8")), tf.int32)

  def serving_endpoint(self, model):
    """serving_default takes batches (TF Serving's row format): a prime, a length and a temperature per row."""
    (serve, signature), _ = generation.endpoints(self._generator(model), "chars")
    return serve, signature, [self.lookup]

  def extra_endpoints(self, model):
    _, generate_one = generation.endpoints(self._generator(model), "chars")
    return {"generate": generate_one,
            "score": (self._scorer(model), [tf.TensorSpec([None], tf.string, name="text")])}

  def _generator(self, model):
    self.lookup(tf.constant(["a"]))  # a fixed-vocabulary lookup must run once before export tracks it
    return generation.generator(model, self._char_ids, self.characters, "", MAX_CHARS, "chars", "character")

  def _scorer(self, model):
    generator = Generator(model)

    def score(text):
      """Each text read from a zero state: the nats of predicting characters 2..n, and how many were predicted."""
      ids = self._char_ids(text).to_tensor()
      batch, steps = tf.shape(ids)[0], tf.shape(ids)[1]

      def step(t, states, nats):
        logits, states = generator.step(ids[:, t], states)
        losses, mask = losses_and_mask(ids[:, t + 1], logits)
        return t + 1, states, nats + losses * mask

      _, _, nats = tf.while_loop(lambda t, *_: t < steps - 1, step, (0, generator.start(batch), tf.zeros([batch])))
      return {"nats": nats, "predicted_chars": tf.reduce_sum(tf.cast(ids[:, 1:] != PADDING, tf.int32), axis=1)}

    return score

  def epoch_report(self, model):
    """A passage generated after the validation text's first line, at the evaluation temperature."""
    prime = self.texts()["validation"].strip().split("\n")[0][:60] or self.characters[0]
    text = tf.function(self._generator(model))(tf.constant([prime]), tf.constant([EPOCH_SAMPLE_CHARS]),
                                               tf.constant([SAMPLING_TEMPERATURE.default]), tf.constant(0))["text"]
    return Report(samples=[{"prime": prime, "generated": text.numpy()[0].decode("utf-8")}])

  def evaluate_served(self, served, batch_size, settings=None):
    """Test nats/char through the export's score endpoint, on the pieces training's test figure reads; with a
    --prime, a generated sample too."""
    pieces = _pieces(self.texts()["test"], batch_size)
    scored = served.score(text=tf.constant([p for p in pieces if len(p) > 1]))
    nats = float(tf.reduce_sum(scored["nats"])) / float(tf.reduce_sum(scored["predicted_chars"]))
    report = Report({"nats_per_char": nats, "bits_per_char": nats / math.log(2)})
    settings = self.evaluation_settings(settings)
    if settings["prime"] is not None:
      text = generation.sample(served, settings, "chars")
      report.samples.append({"prime": settings["prime"], "text": settings["prime"] + text})
      report.info["sample"] = f"temperature {settings['temperature']:g}, top_k {settings['top_k']}"
    return report


def _pieces(sequence, count):
  """The evaluation protocol: `count` contiguous pieces, each overlapping the next by one element (its first
  target), so every element but the first is predicted once. The last pieces may be short or empty."""
  length = math.ceil((len(sequence) - 1) / count)
  return [sequence[i * length:(i + 1) * length + 1] for i in range(count)]


def _streams(ids, batch_size):
  """(inputs, targets) [batch_size, ceil((n-1)/batch_size)]: the pieces of the split as rows, 0-padded."""
  pieces = _pieces(ids, batch_size)
  inputs = np.zeros((batch_size, max(len(p) for p in pieces) - 1), np.int32)
  targets = np.zeros_like(inputs)
  for row, piece in enumerate(pieces):
    predicted = max(len(piece) - 1, 0)
    inputs[row, :predicted], targets[row, :predicted] = piece[:predicted], piece[1:]
  return inputs, targets
