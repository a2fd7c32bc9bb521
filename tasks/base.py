"""The Task interface: what goes in and out, the data pipelines, loss, metrics and serving.

A task knows nothing about architectures; it describes its inputs and outputs with an IOSpec and
a topology builder (models/topologies) fits a preset to it.
"""

import abc
import dataclasses
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from common.errors import UserError


@dataclasses.dataclass(frozen=True)
class IOSpec:
  """The task side of the task <-> model seam."""

  input_kind: str              # "tokens": int ids, 0 = padding | "features": float32 per step
  input_size: int              # vocabulary size, or features per step
  output_size: int             # classes (per step for many_to_many)
  input_name: str = "inputs"   # the model's Input name
  sequence_length: int | None = None  # None: variable length
  stateful_batch: int | None = None   # carry recurrent state across batches of exactly this size (truncated BPTT)
  condition_classes: int | None = None  # one_to_many: how many labels the "one" input can take
  input_dropout: bool = True  # whether --dropout also drops inputs (whole tokens, or features)
  decoder_vocab: int | None = None   # seq2seq: ids the decoder reads (0 = padding)
  decoder_length: int | None = None  # seq2seq: decoder steps (None: variable)
  window: object = None  # forecasting: a models.forecaster.WindowSpec; the model maps windows to forecasts


@dataclasses.dataclass(frozen=True)
class Option:
  """A task-specific setting, set by a flag of the same name (named after the published protocol)."""

  default: object
  help: str
  choices: tuple = ()


@dataclasses.dataclass(frozen=True)
class DataConfig:
  data_dir: str | None = None    # prepared tfds data
  manual_dir: str | None = None  # original archives, for building offline
  data_file: str | None = None   # a user's own data file, for tasks that read one


class Task(abc.ABC):
  name: ClassVar[str]
  tfds_name: ClassVar[str]                # tfds name[/config] the task reads
  topologies: ClassVar[tuple[str, ...]]   # the first is the default
  monitor: ClassVar[tuple[str, str]] = ("accuracy", "max")  # validation metric for early stopping
  options: ClassVar[dict[str, Option]] = {}  # task-specific flags
  reads_data_file: ClassVar[bool] = False     # whether --data_file can replace the tfds dataset
  variants: ClassVar[dict[str, type]] = {}    # topology -> the Task subclass that serves it, when not this one
  causal_because: ClassVar[str] = ""          # why the task needs a unidirectional model (generation), if it does

  def __init__(self, data: DataConfig, options=None):
    self.data = data
    self.notes = {}   # how figures were made (e.g. sacreBLEU's signature), for metrics.json's info
    self.options = {name: option.default for name, option in self.options.items()} | dict(options or {})

  @classmethod
  def check_model(cls, spec, topology):
    """Raises UserError when this task cannot use the preset (e.g. generation needs a causal model)."""
    if spec.kind != "recurrent":
      raise UserError(f"--model={spec.name} is a forecasting baseline; --task={cls.name} needs a recurrent preset.")
    if cls.causal_because and spec.bidirectional:
      raise UserError(f"--model={spec.name} is bidirectional: {cls.causal_because}. Use a unidirectional preset "
                      "(rnn, lstm, gru or stacked_*).")

  def dataset_name(self):
    """What the run reads, for metrics.json: the user's file or the tfds dataset."""
    return self.data.data_file or self.tfds_name

  @abc.abstractmethod
  def check_data(self):
    """Makes sure the data can be read; raises UserError naming the flag and files that fix it."""

  def tuned_defaults(self, spec) -> dict:
    """The best known model and training settings of this task for a preset (flags override)."""
    return {}

  @classmethod
  def tuned_options(cls, spec) -> dict:
    """Task options whose best known value depends on the preset (flags override)."""
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

  @abc.abstractmethod
  def serving_endpoint(self, model):
    """(function, input_signature, resources to track) of the export's `serve` endpoint, on raw inputs."""

  def extra_endpoints(self, model) -> dict:
    """More endpoints of the export, name -> (function, input_signature); e.g. a scoring one."""
    return {}

  def decoded_metrics(self, model) -> dict:
    """Test figures that need the model to generate (e.g. BLEU of its translations), beyond the loop's metrics."""
    return {}

  @abc.abstractmethod
  def evaluate_served(self, served, batch_size) -> dict:
    """Test metrics of an exported model (engine.export.Served), fed raw test inputs."""


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

  def evaluate_served(self, served, batch_size):
    losses, correct = [], []
    for raw, labels in self.raw_test_batches(batch_size):
      probabilities = served(raw)["probabilities"].numpy()
      labels = labels.numpy()
      picked = probabilities[np.arange(len(labels)), labels]
      losses.append(-np.log(np.clip(picked, 1e-7, 1.0)))
      correct.append(probabilities.argmax(-1) == labels)
    return {"accuracy": float(np.concatenate(correct).mean()), "loss": float(np.concatenate(losses).mean())}
