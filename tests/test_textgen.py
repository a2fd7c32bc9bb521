"""textgen: the window protocol, in-graph generation and scoring through the export, and its user errors."""

import math
import re

import numpy as np
import pytest
import tensorflow as tf

from common import exports
from engine import config, evaluation, run
from common.errors import UserError
from models.decoding import pick_ids
from tasks.base import DataConfig
from tasks.textgen import TextGeneration
from tests.conftest import run_cli

VERSE = "to be or not to be, that is the question.\n"


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("text") / "verse.txt"
  path.write_text(VERSE * 400, encoding="utf-8")
  return str(path)


@pytest.fixture(scope="module")
def trained(text_file, tmp_path_factory):
  """A small LSTM overfit on one repeated verse, trained with the state carried across windows (stateful layers)."""
  path = str(tmp_path_factory.mktemp("runs") / "verse")
  resolved = config.resolve("textgen", "lstm", overrides={
      "units": 64, "embedding_dim": 16, "dropout": 0.0, "batch_size": 8, "epochs": 12, "learning_rate": 0.01,
      "lr_decay": 1.0, "patience": 0}, data=DataConfig(data_file=text_file),
      options={"sequence_length": 32, "carry_state": True})
  metrics = run.train_and_export(resolved, path)
  return path, metrics, exports.load(path)[0]


def _generate(served, prime, num_chars, temperature=0.0, top_k=0):
  out = served.generate(prime=prime, num_chars=num_chars, temperature=temperature, top_k=top_k)
  return out["text"].numpy().decode("utf-8")


def test_carried_windows_continue_each_other_and_evaluation_counts_every_character(text_file, tmp_path):
  task = TextGeneration(DataConfig(data_file=text_file), {"sequence_length": 16, "carry_state": True})
  task.prepare(str(tmp_path), batch_size=4)
  train_ids = task.ids("train")
  batches = list(task.dataset("train", 4, shuffle_seed=3).as_numpy_iterator())
  for (x0, y0), (x1, _) in zip(batches, batches[1:]):
    np.testing.assert_array_equal(y0[:, :-1], x0[:, 1:])   # targets are the next characters
    assert all(_follows(train_ids, a, b) for a, b in zip(x0, x1))  # row b goes on where it stopped
  (inputs, targets), = task.dataset("validation", 4).as_numpy_iterator()
  validation = task.ids("validation")
  assert (targets != 0).sum() == len(validation) - 1
  np.testing.assert_array_equal(targets[targets != 0], validation[1:])


def _follows(ids, first, second):
  """Whether window `second` starts right after window `first` in ids."""
  text, a, b = ids.tobytes(), first.tobytes(), second.tobytes()
  return (a + b) in text


def test_independent_windows_are_shuffled_windows_of_the_text(text_file, tmp_path):
  task = TextGeneration(DataConfig(data_file=text_file), {"sequence_length": 16, "carry_state": False})
  io = task.prepare(str(tmp_path), batch_size=4)
  assert io.stateful_batch is None
  first = next(task.dataset("train", 4, shuffle_seed=1).as_numpy_iterator())[0]
  again = next(task.dataset("train", 4, shuffle_seed=1).as_numpy_iterator())[0]
  other = next(task.dataset("train", 4, shuffle_seed=2).as_numpy_iterator())[0]
  np.testing.assert_array_equal(first, again)
  assert not np.array_equal(first, other)


def test_independent_windows_learn_the_verse_too(text_file, tmp_path):
  resolved = config.resolve("textgen", "gru", overrides={
      "units": 64, "embedding_dim": 16, "dropout": 0.0, "batch_size": 8, "epochs": 6, "learning_rate": 0.01,
      "patience": 0}, data=DataConfig(data_file=text_file), options={"sequence_length": 32})
  assert resolved.options["carry_state"] is False   # the default
  metrics = run.train_and_export(resolved, str(tmp_path / "run"))
  assert metrics["test"]["nats_per_char"] < 0.2, metrics["test"]


def test_overfit_model_reproduces_its_text(trained):
  _, metrics, served = trained
  assert metrics["test"]["nats_per_char"] < 0.1, metrics["test"]
  assert _generate(served, "to be or", 60) == (VERSE * 3)[len("to be or"):][:60]


def test_export_scores_the_test_split_as_training_did(trained, text_file):
  path, metrics, served = trained
  task = TextGeneration(DataConfig(data_file=text_file), {"sequence_length": 32})
  served_test = task.evaluate_served(served, batch_size=8).metrics
  assert served_test["nats_per_char"] == pytest.approx(metrics["test"]["nats_per_char"], rel=1e-4, abs=1e-6)
  assert served_test["bits_per_char"] == pytest.approx(served_test["nats_per_char"] / math.log(2))


def test_near_zero_temperature_is_greedy_and_unknown_characters_are_skipped(trained):
  _, _, served = trained
  greedy = _generate(served, "that is", 40, temperature=0.0)
  assert _generate(served, "that is", 40, temperature=1e-7) == greedy
  assert _generate(served, "that\u2603 is\u00ff", 40) == greedy     # ☃ and ÿ are not in the verse
  logits = tf.constant(np.random.default_rng(0).normal(size=(16, 9)), tf.float32)
  np.testing.assert_array_equal(pick_ids(logits, tf.constant(1e-9)), tf.argmax(logits, -1))
  assert set(pick_ids(logits, tf.constant(1.0), tf.constant(1)).numpy()) <= set(tf.argmax(logits, -1).numpy())


def test_serving_default_generates_a_batch_of_primes_each_at_its_own_length_and_temperature(trained):
  _, _, served = trained
  out = served(prime=tf.constant(["to be or", "that is", "question"]), num_chars=tf.constant([30, 5, 12]),
               temperature=tf.constant([0.0, 0.0, 5.0]))["text"].numpy()
  assert out[0].decode() == _generate(served, "to be or", 30) and out[1].decode() == _generate(served, "that is", 5)
  assert len(out[2].decode()) == 12
  assert served(prime=tf.constant([], tf.string), num_chars=tf.constant([], tf.int32),
                temperature=tf.constant([], tf.float32))["text"].shape == (0,)
  with pytest.raises(tf.errors.InvalidArgumentError, match="num_chars needs one per prime"):
    served(prime=tf.constant(["to", "be"]), num_chars=tf.constant([3]), temperature=tf.constant([0.0, 0.0]))


def test_sampling_follows_temperature_and_never_emits_padding_or_unknown(trained):
  _, _, served = trained
  text = _generate(served, "to", 300, temperature=5.0)
  assert len(text) == 300 and set(text) <= set(VERSE)


@pytest.mark.parametrize("prime,num_chars,message", [
    ("", 10, "prime holds no character the model knows"),
    ("\u2603\u2603", 10, "prime holds no character the model knows"),
    ("to be", 0, "num_chars must be >= 1"),
    ("to be", -3, "num_chars must be >= 1"),
])
def test_bad_generation_inputs_are_clear_errors(trained, prime, num_chars, message):
  _, _, served = trained
  with pytest.raises(tf.errors.InvalidArgumentError) as raised:
    _generate(served, prime, num_chars)
  assert exports.input_error(raised.value).startswith(message)


def test_evaluate_cli_prints_a_sample_and_refuses_an_empty_prime(trained):
  path, _, _ = trained
  result = run_cli("evaluate.py", f"--model_dir={path}", "--prime=to be", "--num_chars=20", "--temperature=0")
  assert result.returncode == 0, result.stderr[-2000:]
  assert (VERSE * 2)[:25] in result.stdout
  result = run_cli("evaluate.py", f"--model_dir={path}", "--prime=")
  assert result.returncode == 2 and "prime holds no character the model knows" in result.stderr


def test_textgen_refuses_models_and_flags_that_cannot_work(text_file):
  with pytest.raises(UserError, match="--model=bilstm is bidirectional"):
    config.resolve("textgen", "bilstm")
  with pytest.raises(UserError, match="--sequence_length does not apply to --task=mnist; it is a setting of "
                                      "--task=textgen"):
    config.resolve("mnist", "lstm", options={"sequence_length": 10})
  with pytest.raises(UserError, match="--task=mnist does not read --data_file"):
    config.resolve("mnist", "lstm", data=DataConfig(data_file=text_file))


@pytest.mark.parametrize("content,message", [
    (None, "does not exist"),
    (b"caf\xe9 au lait " * 10, "is not utf-8 text: line 1, column 4 holds byte 0xe9 (invalid continuation byte)"),
    (b"tiny", "holds 4 characters; it needs enough for 90/5/5"),
])
def test_bad_data_files_are_named(tmp_path, content, message):
  path = tmp_path / "book.txt"
  if content is not None:
    path.write_bytes(content)
  with pytest.raises(UserError, match=re.escape(message)):
    TextGeneration(DataConfig(data_file=str(path))).check_data()


def test_evaluate_refuses_a_prime_for_a_run_that_does_not_generate(tmp_path):
  # A toy classifier run: no generate endpoint.
  path = str(tmp_path / "toy")
  run.train_and_export(config.resolve("toy_classify", "lstm"), path)
  with pytest.raises(UserError, match="--prime does not apply to --task=toy_classify; it is a setting of "
                                      "--task=textgen"):
    evaluation.evaluate_export(path, settings={"prime": "hello"})


def test_a_window_too_short_is_refused(text_file):
  with pytest.raises(UserError, match=re.escape("--sequence_length=1 is invalid; it must be >= 2.")):
    config.resolve("textgen", "lstm", data=DataConfig(data_file=text_file), options={"sequence_length": 1})
