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


@dataclasses.dataclass(frozen=True)
class IOSpec:
  """The task side of the task <-> model seam."""

  input_kind: str              # "tokens": int ids, 0 = padding | "features": float32 per step
  input_size: int              # vocabulary size, or features per step
  output_size: int             # classes (per step for many_to_many)
  input_name: str = "inputs"   # the model's Input name
  sequence_length: int | None = None  # None: variable length


@dataclasses.dataclass(frozen=True)
class DataConfig:
  data_dir: str | None = None    # prepared tfds data
  manual_dir: str | None = None  # original archives, for building offline


class Task(abc.ABC):
  name: ClassVar[str]
  tfds_name: ClassVar[str]                # tfds name[/config] the task reads
  topologies: ClassVar[tuple[str, ...]]   # the first is the default
  monitor: ClassVar[tuple[str, str]] = ("accuracy", "max")  # validation metric for early stopping

  def __init__(self, data: DataConfig):
    self.data = data

  @abc.abstractmethod
  def check_data(self):
    """Makes sure the data can be read; raises UserError naming the flag and files that fix it."""

  def tuned_defaults(self, spec) -> dict:
    """The best known model and training settings of this task for a preset (flags override)."""
    return {}

  @abc.abstractmethod
  def prepare(self, artifacts_dir) -> IOSpec:
    """Fits (or reloads from artifacts_dir) preprocessing such as a vocabulary."""

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
    """(function, input_signature) of the exported model's `serve` endpoint, on raw inputs."""

  @abc.abstractmethod
  def evaluate_served(self, serve, batch_size) -> dict:
    """Test metrics of an exported model, fed raw test inputs through its serve endpoint."""


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

  def evaluate_served(self, serve, batch_size):
    losses, correct = [], []
    for raw, labels in self.raw_test_batches(batch_size):
      probabilities = serve(raw)["probabilities"].numpy()
      labels = labels.numpy()
      picked = probabilities[np.arange(len(labels)), labels]
      losses.append(-np.log(np.clip(picked, 1e-7, 1.0)))
      correct.append(probabilities.argmax(-1) == labels)
    return {"accuracy": float(np.concatenate(correct).mean()), "loss": float(np.concatenate(losses).mean())}
