"""The Task interface: what goes in and out, the data pipelines, loss, metrics, serving, and what a task reports.

A task knows nothing about architectures; it describes its inputs and outputs with a models.IOSpec
and a topology builder (models/topologies) fits a preset to it. Everything task-specific the engine
and evaluate.py need goes through the methods below (the shape of TF Model Garden's Task): the engine
never tests which task it runs.
"""

import abc
import dataclasses
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from common.errors import UserError
from common.progress import Progress
from common.settings import Setting
from models import IOSpec


# An evaluation setting every task that samples shares (textgen's text, mnist's drawn digits).
SAMPLING_TEMPERATURE = Setting(0.8, "evaluate.py: sampling temperature of what the model generates.", at_least=0,
                               note="0: greedy", train=False, evaluate=True)


# Settings of the tasks that read a user's corpus of sentences (translation, tagging).
DATA_FILE_SPLIT = Setting("0.8,0.1,0.1", "translation, tagging: train,validation,test shares of a single --data_file "
                                         "(its sentences shuffled once, seed 0).")


def data_file_shares(text):
  """--data_file_split's three shares; a UserError unless they are three positive numbers summing to 1."""
  try:
    shares = [float(x) for x in text.split(",")]
  except ValueError:
    shares = []
  if len(shares) != 3 or min(shares) <= 0 or abs(sum(shares) - 1) > 1e-6:
    raise UserError(f"--data_file_split={text} is invalid; it must be three positive shares summing to 1, "
                    "e.g. 0.8,0.1,0.1.")
  return shares


def split_by_shares(items, shares, seed=0):
  """{"train", "validation", "test"}: `items` shuffled once (seeded) and cut by the shares."""
  order = np.random.default_rng(seed).permutation(len(items))
  ends = np.cumsum([int(round(share * len(items))) for share in shares[:2]])
  return {split: [items[i] for i in rows]
          for split, rows in zip(("train", "validation", "test"), np.split(order, ends))}


@dataclasses.dataclass(frozen=True)
class DataConfig:
  data_dir: str | None = None    # prepared tfds data
  manual_dir: str | None = None  # original archives, for building offline
  data_file: str | None = None   # a user's own data file, for tasks that read one
  encoding: str = "utf-8"         # the data file's text encoding


@dataclasses.dataclass
class Report:
  """What a task reports of a model beyond the training loop's loss and metrics. Returned by the task's hooks; the
  engine writes it to metrics.json, TensorBoard and evaluate.py's output."""

  metrics: dict = dataclasses.field(default_factory=dict)   # name -> number (e.g. bleu)
  info: dict = dataclasses.field(default_factory=dict)      # name -> how a figure was made (sacreBLEU's signature)
  samples: list = dataclasses.field(default_factory=list)   # dicts of strings (source / reference / translation)
  images: dict = dataclasses.field(default_factory=dict)    # name -> uint8 picture [height, width] (drawn digits)
  tables: dict = dataclasses.field(default_factory=dict)    # name -> rows, each a dict (a per-tag table)


class Task(abc.ABC):
  name: ClassVar[str]
  tfds_name: ClassVar[str]                # tfds name[/config] the task reads
  topologies: ClassVar[tuple[str, ...]]   # the first is the default
  monitor: ClassVar[tuple[str, str]] = ("accuracy", "max")  # validation metric for early stopping
  # The task's own settings, each a flag of the same name: run settings (train=True, stored in config.json) and
  # settings of evaluating an export (evaluate=True).
  options: ClassVar[dict[str, Setting]] = {}
  reads_data_file: ClassVar[bool] = False     # whether --data_file can replace the tfds dataset
  causal_because: ClassVar[str] = ""          # why the task needs a unidirectional model (generation), if it does
  heads: ClassVar[tuple[str, ...]] = ("softmax",)   # the output layers its loss and decoding understand
  reads_characters: ClassVar[bool] = False    # whether its token inputs are words it can spell (IOSpec.char_vocab)
  takes_baselines: ClassVar[bool] = False     # whether the forecasting baselines (naive, linear) apply
  decodes_tokens: ClassVar[bool] = False      # whether a seq2seq decoder reads the tokens it writes (--tie_embeddings)
  # For --init_from: what the task's token ids are (tasks with the same value read the same tokens, so the
  # embedding and recurrent weights of one fit the other) and the run-directory files holding its vocabulary,
  # which a run starting from its weights takes over. None: the task cannot start from another run's weights.
  tokens: ClassVar[str | None] = None
  vocabulary_files: ClassVar[tuple[str, ...]] = ()

  def __init__(self, data: DataConfig, options=None):
    self.data = data
    self.options = {name: o.default for name, o in type(self).options.items() if o.train} | dict(options or {})

  def evaluation_settings(self, given=None):
    """The settings of evaluating an export (declared evaluate=True, train=False): defaults, replaced by `given`."""
    return {n: o.default for n, o in type(self).options.items() if o.evaluate and not o.train} | dict(given or {})

  @classmethod
  def check_model(cls, spec, topology):
    """Raises UserError when this task cannot use the preset (e.g. generation needs a causal model)."""
    if not spec.recurrent and not cls.takes_baselines:
      raise UserError(f"--model={spec.name} is a forecasting baseline; --task={cls.name} needs a recurrent preset.")
    if spec.made_for and spec.made_for != cls.name:
      raise UserError(f"--model={spec.name} is made for --task={spec.made_for} (its recipe sets that task's options); "
                      f"for --task={cls.name} use a general preset such as --model={spec.cell}.")
    if cls.causal_because and spec.bidirectional:
      raise UserError(f"--model={spec.name} is bidirectional: {cls.causal_because}. Use a unidirectional preset "
                      "(rnn, lstm, gru or stacked_*).")
    if spec.head not in cls.heads:
      raise UserError(f"--head={spec.head} is not an output --task={cls.name} can read; it reads: "
                      f"{', '.join(cls.heads)} (a CRF head is for tagging: a label for each word).")
    if spec.char_units and not cls.reads_characters:
      raise UserError(f"--char_units={spec.char_units} reads the characters of words, which --task={cls.name} does "
                      "not offer (tagging does); leave --char_units unset.")
    if spec.tie_embeddings and not cls.decodes_tokens:
      raise UserError(f"--tie_embeddings scores outputs with the embeddings of the tokens a decoder reads; --task="
                      f"{cls.name} has no such decoder (translation does); leave --tie_embeddings unset.")

  def check_settings(self, spec, topology):
    """Raises UserError for task options that make no sense with this preset and topology (called once all
    settings are resolved)."""

  def reads_backwards(self):
    """Whether the model reads every sequence from its end (a backward language model)."""
    return False

  def dataset_name(self):
    """What the run reads, for metrics.json: the user's file or the tfds dataset."""
    return self.data.data_file or self.tfds_name

  @abc.abstractmethod
  def check_data(self, batch_size=None):
    """Makes sure the data can be read, and is enough for training batches of `batch_size` (when given); raises
    UserError naming the flag and files that fix it."""

  @classmethod
  def tuned_options(cls, spec, options, data) -> dict:
    """Run options this task chooses for a preset, given the others and the data it reads (e.g. per-series
    settings of a published recipe, which a user's own --data_file does not take); flags override them."""
    return {}

  def tuned_defaults(self, spec) -> dict:
    """The best known model and training settings of this task for a preset (flags override)."""
    return {}

  @abc.abstractmethod
  def prepare(self, artifacts_dir, batch_size=None) -> IOSpec:
    """Fits (or reloads from artifacts_dir) preprocessing such as a vocabulary.

    batch_size is the training batch size, for tasks whose models carry state across batches.
    """

  @abc.abstractmethod
  def dataset(self, split, batch_size, shuffle_seed=None) -> tf.data.Dataset:
    """Batches of (model inputs, targets) for "train", "validation" or "test"."""

  @abc.abstractmethod
  def per_example_loss(self, targets, outputs):
    """[batch] losses, from the model's raw outputs."""

  @abc.abstractmethod
  def metrics(self) -> dict:
    """Fresh keras metrics, name -> metric, updated with (targets, outputs)."""

  def training_metrics(self) -> dict:
    """The metrics the training loop reports of its own batches (default: metrics())."""
    return self.metrics()

  @abc.abstractmethod
  def serving_endpoint(self, model):
    """(function, input_signature, resources to track) of the export's `serve` endpoint, on raw inputs."""

  def extra_endpoints(self, model) -> dict:
    """More endpoints of the export, name -> (function, input_signature); e.g. a scoring one."""
    return {}

  def decoded_report(self, model) -> Report:
    """Test figures that need the trained model to generate (e.g. BLEU of its translations), after training."""
    return Report()

  def epoch_report(self, model) -> Report:
    """What TensorBoard shows of the model after each epoch, cheaply (a few translations, a generated passage,
    drawn digits)."""
    return Report()

  @abc.abstractmethod
  def evaluate_served(self, served, batch_size, settings=None) -> Report:
    """Test metrics of an exported model (common.exports.Served), fed raw test inputs, and what else evaluating it
    shows (samples, pictures); `settings` holds the task's evaluation settings (Setting.evaluate)."""


class ClassificationTask(Task):
  """One label per example; the model outputs one logit per class."""

  num_classes: ClassVar[int]
  class_names: ClassVar[tuple[str, ...]]

  def per_example_loss(self, targets, outputs):
    return keras.losses.sparse_categorical_crossentropy(targets, outputs, from_logits=True)

  def metrics(self):
    return {"accuracy": keras.metrics.SparseCategoricalAccuracy(name="accuracy")}

  def labelled(self, logits):
    """Serving outputs shared by every classifier: class probabilities and the predicted label."""
    probabilities = tf.nn.softmax(logits, axis=-1)
    label = tf.gather(tf.constant(self.class_names), tf.argmax(probabilities, axis=-1))
    return {"probabilities": probabilities, "label": label}

  @abc.abstractmethod
  def raw_test_batches(self, batch_size):
    """Batches of (raw serving inputs, integer labels) from the test split."""

  def evaluate_served(self, served, batch_size, settings=None):
    losses, correct = [], []
    progress = Progress("Evaluating the export on the test split", unit="batches")
    for raw, labels in self.raw_test_batches(batch_size):
      probabilities = served(raw)["probabilities"].numpy()
      labels = labels.numpy()
      picked = probabilities[np.arange(len(labels)), labels]
      losses.append(-np.log(np.clip(picked, 1e-7, 1.0)))
      correct.append(probabilities.argmax(-1) == labels)
      progress.update(1, [("accuracy", float(np.concatenate(correct).mean()))])
    progress.close()
    return Report({"accuracy": float(np.concatenate(correct).mean()), "loss": float(np.concatenate(losses).mean())})
