"""mnist --topology=one_to_many: drawing digits row by row, each drawn row fed back; served and scored."""

import json

import numpy as np
import pytest
import tensorflow as tf

from common import exports
from engine import config, run
from common.errors import UserError
from tasks.mnist_drawing import MnistDrawing, draw_and_recognise, grid, previous_rows
from tests.conftest import TFDS_DIR, requires_tfds, run_cli

TINY = {"units": 16, "embedding_dim": 4, "epochs": 1, "batch_size": 16}


def _train(path, topology, **overrides):
  resolved = config.resolve("mnist", "lstm", topology, {**TINY, **overrides})
  return resolved, run.train_and_export(resolved, path)


def test_drawing_needs_a_unidirectional_model():
  with pytest.raises(UserError, match="--model=bigru is bidirectional: it reads later rows"):
    config.resolve("mnist", "bigru", "one_to_many")


def test_teacher_forcing_reads_the_previous_true_row():
  rows = tf.random.uniform([2, 28, 28])
  previous = previous_rows(rows)
  np.testing.assert_array_equal(previous[:, 0], tf.zeros([2, 28]))
  np.testing.assert_array_equal(previous[:, 1:], rows[:, :-1])


def test_drawing_model_exports_draws_and_scores(mock_tfds, tmp_path):
  path = str(tmp_path / "draw")
  resolved, metrics = _train(path, "one_to_many")
  assert resolved.topology == "one_to_many" and metrics["status"] == "completed"
  served, _ = exports.load(path)
  labels = tf.constant([0, 3, 9], tf.int32)
  greedy = served.draw(labels=labels, temperature=tf.constant(0.0))["images"]
  assert greedy.shape == (3, 28, 28) and greedy.dtype == tf.uint8
  np.testing.assert_array_equal(greedy, served.draw(labels=labels, temperature=tf.constant(0.0))["images"])
  sampled = served.draw(labels=labels, temperature=tf.constant(1.0))["images"].numpy()
  assert set(np.unique(sampled)) <= {0, 255}      # sampled pixels are on or off
  # serving_default: a temperature per label (batched inputs only); a greedy row equals the greedy drawing
  mixed = served(labels=labels, temperature=tf.constant([0.0, 1.0, 0.0]))["images"].numpy()
  np.testing.assert_array_equal(mixed[[0, 2]], greedy.numpy()[[0, 2]])
  task = MnistDrawing(resolved.data)
  served_loss = task.evaluate_served(served, 16, {"samples_per_label": 1}).metrics["loss"]
  assert served_loss == pytest.approx(metrics["test"]["loss"], rel=1e-4)
  for _ in range(5):  # the check must always run before the lookup, not only usually
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be digits 0..9"):
      served(labels=tf.constant([10]), temperature=tf.constant([0.0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be digits 0..9"):
      served.score(images=tf.zeros([1, 28, 28], tf.uint8), labels=tf.constant([-1]))


def test_recognised_counts_the_drawn_digits_the_classifier_reads_as_their_label(mock_tfds, tmp_path):
  _train(str(tmp_path / "draw"), "one_to_many")
  drawer = exports.load(str(tmp_path / "draw"))[0]
  always_three = lambda images: {"probabilities": tf.one_hot(tf.fill([tf.shape(images)[0]], 3), 10)}
  images, labels, recognised = draw_and_recognise(drawer, always_three, 2, 1.0)
  assert images.shape == (20, 28, 28) and list(labels[:4]) == [0, 0, 1, 1]
  assert recognised == pytest.approx(0.1)   # only the two digits drawn for label 3
  assert draw_and_recognise(drawer, None, 2, 1.0)[2] is None
  picture = grid(images, labels)
  assert picture.shape == (280, 2 * 28) and picture.dtype == np.uint8
  np.testing.assert_array_equal(picture[28:56, 28:56], 255 - images[3])   # label 1's second digit: row 2, column 2


@pytest.mark.slow
@requires_tfds("mnist")
def test_evaluate_cli_draws_digits_and_counts_recognised(tmp_path):
  data = f"--data_dir={TFDS_DIR}"
  for topology in ("one_to_many", "many_to_one"):
    result = run_cli("train.py", "--model=lstm", "--task=mnist", f"--topology={topology}", "--units=16",
                     "--epochs=1", f"--model_dir={tmp_path / topology}", data)
    assert result.returncode == 0, result.stderr[-2000:]
  result = run_cli("evaluate.py", f"--model_dir={tmp_path / 'one_to_many'}",
                   f"--classifier={tmp_path / 'many_to_one'}", "--samples_per_label=3", data)
  assert result.returncode == 0, result.stderr[-2000:]
  report, _ = json.JSONDecoder().raw_decode(result.stdout)
  assert isinstance(report["test"]["recognised"], float) and "loss" in report["test"]
  assert report["pictures"]["drawn_digits"] == str(tmp_path / "one_to_many" / "drawn_digits.png")
  assert (tmp_path / "one_to_many" / "drawn_digits.png").stat().st_size > 1000
  result = run_cli("evaluate.py", f"--model_dir={tmp_path / 'one_to_many'}",
                   f"--classifier={tmp_path / 'one_to_many'}", data)
  assert result.returncode == 2 and "is a mnist one_to_many run; it must be an mnist many_to_one run" in result.stderr
  result = run_cli("evaluate.py", f"--model_dir={tmp_path / 'many_to_one'}",
                   f"--classifier={tmp_path / 'many_to_one'}", data)
  assert result.returncode == 2 and ("--classifier does not apply to --task=mnist; it is a setting of --task=mnist "
                                     "--topology=one_to_many") in result.stderr
