"""Tiny in-memory tasks for unit tests: learnable, fast, and shaped like the real ones."""

import keras
import numpy as np
import tensorflow as tf

import tasks
from models import IOSpec
from tasks.base import ClassificationTask, Task

VOCAB = 12


def token_examples(n, seed):
  """Variable-length id sequences (1..9 tokens, ids 2..11); label: does token 7 occur."""
  rng = np.random.default_rng(seed)
  lengths = rng.integers(1, 10, n)
  ids = np.zeros((n, 9), np.int32)
  for i, length in enumerate(lengths):
    ids[i, :length] = rng.integers(2, VOCAB, length)
  return ids, (ids == 7).any(axis=1).astype(np.int32)


@tasks.register
class ToyClassify(ClassificationTask):
  """Right-padded token ids in, one of two classes out (like sentiment, without the text)."""

  name = "toy_classify"
  tfds_name = "in-memory"
  topologies = ("many_to_one",)
  num_classes = 2
  class_names = ("absent", "present")
  sizes = {"train": 128, "validation": 64, "test": 64}

  def check_data(self, batch_size=None):
    pass

  def tuned_defaults(self, spec):
    return {"units": 8, "embedding_dim": 8, "batch_size": 16, "epochs": 2, "learning_rate": 0.01}

  def prepare(self, artifacts_dir, batch_size=None):
    return IOSpec("tokens", VOCAB, self.num_classes, input_name="token_ids")

  def _examples(self, split):
    return token_examples(self.sizes[split], seed=list(self.sizes).index(split))

  def dataset(self, split, batch_size, shuffle_seed=None):
    ds = tf.data.Dataset.from_tensor_slices(self._examples(split))
    if shuffle_seed is not None:
      ds = ds.shuffle(1000, seed=shuffle_seed, reshuffle_each_iteration=False)
    return ds.batch(batch_size)

  def serving_endpoint(self, model):
    return (lambda ids: self.labelled(model(ids, training=False)),
            [tf.TensorSpec([None, None], tf.int32, name="token_ids")], [])

  def raw_test_batches(self, batch_size):
    return tf.data.Dataset.from_tensor_slices(self._examples("test")).batch(batch_size)


@tasks.register
class ToyTagging(Task):
  """Synced many-to-many: 6 steps of 3 features; each step's label is its largest feature."""

  name = "toy_tagging"
  tfds_name = "in-memory"
  topologies = ("many_to_many",)

  def check_data(self, batch_size=None):
    pass

  def tuned_defaults(self, spec):
    return {"units": 8, "batch_size": 16, "epochs": 1, "learning_rate": 0.01}

  def prepare(self, artifacts_dir, batch_size=None):
    return IOSpec("features", 3, 3, input_name="steps", sequence_length=6)

  def dataset(self, split, batch_size, shuffle_seed=None):
    x = np.random.default_rng(len(split)).normal(size=(64, 6, 3)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, x.argmax(-1).astype(np.int32))).batch(batch_size)

  def per_example_loss(self, targets, outputs):
    return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(targets, outputs, from_logits=True), axis=1)

  def metrics(self):
    return {"accuracy": keras.metrics.SparseCategoricalAccuracy(name="accuracy")}

  def serving_endpoint(self, model):
    return (lambda steps: {"logits": model(steps, training=False)},
            [tf.TensorSpec([None, 6, 3], tf.float32, name="steps")], [])

  def evaluate_served(self, serve, batch_size, settings=None):
    raise NotImplementedError("not needed by the tests")
