"""MNIST read row by row (tfds mnist): 28 time steps of 28 pixels, ten classes."""

import tensorflow as tf

from tasks import tfds_data
from models import IOSpec
from tasks.base import ClassificationTask

SPLITS = {"train": "train[:55000]", "validation": "train[55000:]", "test": "test"}
MANUAL_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


# What the exports take: MNIST's own uint8 pixels (TF Serving's signature), or float32 pixel values 0..255.
IMAGES = (tf.TensorSpec([None, 28, 28], tf.uint8, name="images"), tf.TensorSpec([None, 28, 28], tf.float32, name="images"))


def rows(images):
  """uint8 images [N, 28, 28] or [N, 28, 28, 1] -> float rows in [0, 1], [N, 28, 28]."""
  return tf.cast(tf.reshape(images, [-1, 28, 28]), tf.float32) / 255.0


def served_rows(images):
  """Serving input (uint8, or float32 pixel values 0..255) -> rows in [0, 1]. A float image whose every pixel is
  within [0, 1] looks scaled already, and values outside 0..255 or NaN are no pixels: each is refused with an
  InvalidArgumentError naming it, where a cast would quietly make garbage of them."""
  if images.dtype == tf.uint8:
    return rows(images)
  brightest = tf.reduce_max(images, axis=[1, 2])
  checks = [
      tf.debugging.assert_all_finite(images, message="images hold NaN or Inf; pixel values must be 0..255"),
      tf.debugging.assert_greater_equal(tf.reduce_min(images), 0.0, message="images hold values below 0; pixel "
                                        "values must be 0..255 (as MNIST's uint8 pixels)"),
      tf.debugging.assert_less_equal(tf.reduce_max(images), 255.0, message="images hold values above 255; pixel "
                                     "values must be 0..255 (as MNIST's uint8 pixels)"),
      tf.debugging.assert_equal(tf.reduce_any((brightest > 0) & (brightest <= 1)), False, message="images look "
                                "scaled to [0, 1] (every pixel of an image is <= 1); pixel values must be 0..255: "
                                "multiply them by 255, or pass uint8 images"),
  ]
  with tf.control_dependencies(checks):
    return tf.identity(images) / 255.0


class Mnist(ClassificationTask):
  name = "mnist"
  tfds_name = "mnist"
  topologies = ("many_to_one", "one_to_many")
  num_classes = 10
  class_names = tuple(str(d) for d in range(10))

  def __init__(self, data, options=None):
    super().__init__(data, options)
    self._cached = {}

  def check_data(self, batch_size=None):
    tfds_data.ensure_prepared(self.tfds_name, self.data, MANUAL_FILES)

  def tuned_defaults(self, spec):
    # Measured in docs/results.md: lstm passes 99% test accuracy with these; without the dropout (on the
    # pixels and before the head) it overfits and stays near 98.7%.
    return {"units": 128, "dropout": 0.2, "pooling": "last", "batch_size": 128, "learning_rate": 2e-3,
            "lr_decay": 0.85, "epochs": 20, "patience": 5}

  def prepare(self, artifacts_dir, batch_size=None):
    return IOSpec(input_kind="features", input_size=28, output_size=self.num_classes,
                  input_name="rows", sequence_length=28)

  def _images(self, split):
    if split not in self._cached:  # uint8 in memory: 47 MB for the training split
      self._cached[split] = tfds_data.load(self.tfds_name, SPLITS[split], self.data, MANUAL_FILES).cache()
    return self._cached[split]

  def dataset(self, split, batch_size, shuffle_seed=None):
    ds = self._images(split)
    if shuffle_seed is not None:
      ds = ds.shuffle(60_000, seed=shuffle_seed, reshuffle_each_iteration=False)
    ds = ds.batch(batch_size).map(lambda images, labels: (rows(images), labels), tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)

  def serving_endpoint(self, model):
    def serve(images):
      return self.labelled(model(served_rows(images), training=False))

    return serve, tuple([spec] for spec in IMAGES), []

  def raw_test_batches(self, batch_size):
    return self._images("test").batch(batch_size).map(lambda images, labels: (images[..., 0], labels))
