"""MNIST drawn row by row (--task=mnist --topology=one_to_many): a digit's label in, its 28 rows out.

Pixels are binarized (on at >= 128), as in the autoregressive image models' binarized MNIST, so
that what the model reads in training (true rows) and in drawing (its own rows) are alike.
Training is teacher-forced: step t reads the true row t-1 and predicts row t's pixels (Bernoulli
cross-entropy). Drawing feeds each drawn row back, its pixels sampled on/off from
sigmoid(logits / temperature); temperature 0 is greedy (on where the logit is positive), one
deterministic digit per label.
"""

import numpy as np
import tensorflow as tf

from common import exports
from common.errors import UserError
from common.settings import Setting
from models import IOSpec
from models.decoding import GREEDY_BELOW
from models.topologies.one_to_many import Generator
from tasks.base import SAMPLING_TEMPERATURE, Report
from tasks.mnist import IMAGES, Mnist, rows, served_rows

GRID_COLUMNS = 10   # drawn digits per label in the picture evaluate.py saves


def previous_rows(images_as_rows):
  """[N, 28, 28] -> the row each step reads under teacher forcing: zeros, then rows 0..26."""
  return tf.pad(images_as_rows[:, :-1], [[0, 0], [1, 0], [0, 0]])


def binary_rows(rows_in_01):
  """Rows of pixels in [0, 1] -> on (>= 128 of 255) or off: the binarized MNIST of autoregressive image models."""
  return tf.cast(rows_in_01 >= 0.5, tf.float32)


def _digits(labels):
  """Checks that name the input, run before a lookup whose own error would not."""
  return [tf.debugging.assert_less(labels, 10, message="labels must be digits 0..9"),
          tf.debugging.assert_non_negative(labels, message="labels must be digits 0..9")]


class MnistDrawing(Mnist):
  monitor = ("loss", "min")
  causal_because = "it reads later rows to draw earlier ones, so it cannot draw"
  options = {
      "classifier": Setting(None, "mnist one_to_many (evaluate.py): an mnist many_to_one run (or its export) that "
                                  "reads the drawn digits, to count how many it recognises.", kind=str, train=False,
                            evaluate=True),
      "samples_per_label": Setting(100, "mnist one_to_many (evaluate.py): digits drawn per label (the picture shows "
                                        f"the first {GRID_COLUMNS}).", at_least=1, train=False, evaluate=True),
      "temperature": SAMPLING_TEMPERATURE,
  }

  def tuned_defaults(self, spec):
    # The settings measured in docs/results.md (93.5 % of drawn digits recognised); not tuned further.
    return {"units": 256, "embedding_dim": 16, "dropout": 0.0, "batch_size": 128, "learning_rate": 2e-3,
            "lr_decay": 0.9, "epochs": 15, "patience": 3}

  def prepare(self, artifacts_dir, batch_size=None):
    return IOSpec("features", 28, 28, input_name="previous_rows", sequence_length=28, condition_classes=10)

  def dataset(self, split, batch_size, shuffle_seed=None):
    ds = self._images(split)
    if shuffle_seed is not None:
      ds = ds.shuffle(60_000, seed=shuffle_seed, reshuffle_each_iteration=False)

    def teacher_forced(images, labels):
      target = binary_rows(rows(images))
      return {"label": tf.cast(labels, tf.int32), "previous_rows": previous_rows(target)}, target

    return ds.batch(batch_size).map(teacher_forced, tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

  def per_example_loss(self, targets, outputs):
    pixels = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=outputs)
    return tf.reduce_mean(pixels, axis=[1, 2])   # nats per pixel

  def metrics(self):
    return {}

  def _drawer(self, model):
    generator = Generator(model)

    def draw(labels, temperature):
      """labels [N] and a temperature per label (or one for all) -> {"images": uint8 [N, 28, 28]}."""
      checks = [tf.debugging.assert_non_negative(temperature, message="temperature must be >= 0"), *_digits(labels)]
      with tf.control_dependencies(checks):
        condition, states = generator.start(labels)
      batch = tf.shape(labels)[0]
      temperature = tf.broadcast_to(temperature, [batch])[:, None]

      def step(t, previous, states, drawn):
        logits, states = generator.step(previous, states, condition)
        sampled = tf.random.uniform(tf.shape(logits)) < tf.sigmoid(logits / tf.maximum(temperature, GREEDY_BELOW))
        row = tf.cast(tf.where(temperature <= GREEDY_BELOW, logits > 0, sampled), tf.float32)
        return t + 1, row, states, drawn.write(t, row)

      _, _, _, drawn = tf.while_loop(
          lambda t, *_: t < 28, step,
          (0, tf.zeros([batch, 28]), states, tf.TensorArray(tf.float32, size=28)))
      images = tf.transpose(drawn.stack(), [1, 0, 2])
      return {"images": tf.cast(tf.round(images * 255.0), tf.uint8)}

    return draw

  def serving_endpoint(self, model):
    # serving_default takes batches only (TF Serving's row format): a temperature per label.
    return self._drawer(model), [tf.TensorSpec([None], tf.int32, name="labels"),
                                 tf.TensorSpec([None], tf.float32, name="temperature")], []

  def extra_endpoints(self, model):
    def score(images, labels):
      """Teacher-forced nats per (binarized) pixel of each image given its label."""
      target = binary_rows(served_rows(images))
      with tf.control_dependencies(_digits(labels)):
        logits = model({"label": labels, "previous_rows": previous_rows(target)}, training=False)
      return {"nats_per_pixel": self.per_example_loss(target, logits)}

    return {"score": (score, tuple([spec, tf.TensorSpec([None], tf.int32, name="labels")] for spec in IMAGES)),
            "draw": (self._drawer(model), [tf.TensorSpec([None], tf.int32, name="labels"),    # one temperature for all
                                  tf.TensorSpec([], tf.float32, name="temperature")])}

  def epoch_report(self, model):
    """One digit of every label, drawn greedily."""
    labels = np.arange(10, dtype=np.int32)
    images = self._drawer(model)(tf.constant(labels), tf.constant(0.0))["images"].numpy()
    return Report(images={"drawn_digits": grid(images, labels)})

  def evaluate_served(self, served, batch_size, settings=None):
    """Test nats per pixel through the export's score endpoint; digits drawn at --temperature, as a picture (one
    row per label), and with --classifier the share of them it reads as the label they were drawn for."""
    settings = self.evaluation_settings(settings)
    classifier = _classifier(settings["classifier"]) if settings.get("classifier") else None  # before the long pass
    losses = [served.score(images=images, labels=tf.cast(labels, tf.int32))["nats_per_pixel"].numpy()
              for images, labels in self.raw_test_batches(batch_size)]
    images, labels, recognised = draw_and_recognise(served, classifier, settings["samples_per_label"],
                                                    settings["temperature"])
    report = Report({"loss": float(np.concatenate(losses).mean())},
                    info={"drawing": f"{len(labels)} digits at temperature {settings['temperature']:g}; the "
                                     f"picture's rows are labels 0-9, {GRID_COLUMNS} digits each"},
                    images={"drawn_digits": grid(images, labels)})
    if recognised is None:
      report.info["recognised"] = "pass --classifier=<an mnist many_to_one run> to count the digits it recognises"
    else:
      report.metrics["recognised"] = recognised
    return report


def _classifier(path):
  classifier, config = exports.load(path)
  if (config["task"], config["topology"]) != ("mnist", "many_to_one"):
    raise UserError(f"--classifier={path} is a {config['task']} {config['topology']} run; it must be an mnist "
                    "many_to_one run.")
  return classifier


def draw_and_recognise(served, classifier, samples_per_label, temperature):
  """(images [10 * samples, 28, 28] uint8 ordered by label, labels, the fraction `classifier` reads as their label,
  or None without one)."""
  labels = np.repeat(np.arange(10, dtype=np.int32), samples_per_label)
  images = served.draw(labels=tf.constant(labels), temperature=tf.constant(temperature, tf.float32))["images"]
  if classifier is None:
    return images.numpy(), labels, None
  read = classifier(images)["probabilities"].numpy().argmax(-1)
  return images.numpy(), labels, float((read == labels).mean())


def grid(images, labels):
  """One picture [280, columns * 28] uint8, dark digits on white: a row per label, its first GRID_COLUMNS drawn
  digits side by side (images ordered by label)."""
  per_label = min(len(labels) // 10, GRID_COLUMNS)
  picture = images.reshape(10, -1, 28, 28)[:, :per_label].transpose(0, 2, 1, 3).reshape(280, per_label * 28)
  return 255 - picture
