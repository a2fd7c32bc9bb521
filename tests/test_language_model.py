"""language_model: the sampled softmax, the document pipeline both ways, the export (generation, scoring), and
--init_from (weights landing by role, the vocabulary carried, mismatches named, a fine-tuned run resumed)."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

import models
from common import exports
from common.errors import UserError
from engine import config, grid, run, transfer
from models import sampled_softmax
from models.sampled_softmax import SampledSoftmax
from tasks.base import DataConfig
from tasks.language_model import LanguageModel
from tests.conftest import kill_at_step

SENTENCES = ["the cat sat on the mat .", "the dog sat on the log .", "a cat saw a dog !", "the dog saw the cat ."]
TINY = {"units": 16, "embedding_dim": 8, "dropout": 0.0, "batch_size": 8, "learning_rate": 0.02, "lr_decay": 1.0,
        "patience": 0}


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("text") / "documents.txt"
  path.write_text("\n".join(SENTENCES * 60) + "\n", encoding="utf-8")
  return str(path)


def _train(path, text_file, model="lstm", epochs=6, options=None, init_from=(), task="language_model", **overrides):
  resolved = config.resolve(task, model, overrides={**TINY, "epochs": epochs, **overrides},
                            data=DataConfig(data_file=text_file), options={"sampled_softmax": 4, **(options or {})},
                            init_from=init_from)
  return run.train_and_export(resolved, str(path))


@pytest.fixture(scope="module")
def forward(text_file, tmp_path_factory):
  path = tmp_path_factory.mktemp("runs") / "forward"
  return str(path), _train(path, text_file)


@pytest.fixture(scope="module")
def backward(text_file, tmp_path_factory):
  path = tmp_path_factory.mktemp("runs") / "backward"
  return str(path), _train(path, text_file, options={"backwards": True})


# -- the softmax ---------------------------------------------------------------------------------

def test_exact_log_probabilities_are_the_full_softmax_in_chunks_or_not(monkeypatch):
  head = SampledSoftmax(50, samples=8)
  hidden = tf.random.normal([3, 7, 5], seed=1)
  targets = tf.constant(np.random.default_rng(0).integers(0, 50, (3, 7)), tf.int32)
  exact = head([hidden, targets], training=False).numpy()
  reference = tf.gather(tf.nn.log_softmax(head.logits(hidden)), targets, batch_dims=2).numpy()
  np.testing.assert_allclose(exact, reference, atol=1e-5)
  monkeypatch.setattr(sampled_softmax, "EXACT_CHUNK", 4)   # 21 tokens in 6 chunks, the last one short
  np.testing.assert_allclose(head([hidden, targets], training=False).numpy(), reference, atol=1e-5)
  full_training = SampledSoftmax(50, samples=0)
  full_training.build([hidden.shape, targets.shape])
  full_training.set_weights(head.get_weights())
  np.testing.assert_allclose(full_training([hidden, targets], training=True).numpy(), reference, atol=1e-5)


def test_the_sampled_estimate_is_a_log_probability_among_drawn_candidates_that_learns():
  head = SampledSoftmax(1000, samples=64, seed=3)
  hidden = tf.Variable(tf.random.normal([32, 8], seed=2))
  targets = tf.constant(np.arange(32) % 7 + 2, tf.int32)
  head.build([(None, 8), (None,)])
  estimate = head([hidden, targets], training=True)
  assert estimate.shape == (32,) and bool(tf.reduce_all(estimate <= 0))
  assert not np.allclose(estimate, head([hidden, targets], training=True))   # other candidates each call
  optimizer = tf.keras.optimizers.Adam(0.05)
  variables = [hidden, *head.trainable_variables]
  exact_before = float(tf.reduce_mean(head([hidden, targets], training=False)))
  for _ in range(60):
    with tf.GradientTape() as tape:
      loss = -tf.reduce_mean(head([hidden, targets], training=True))
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
  assert float(tf.reduce_mean(head([hidden, targets], training=False))) > exact_before + 1.0   # the exact one rose


# -- the pipeline and the export -------------------------------------------------------------------

def test_documents_are_read_whole_each_word_predicted_from_the_ones_before(text_file, tmp_path):
  for backwards in (False, True):
    task = LanguageModel(DataConfig(data_file=text_file), {"backwards": backwards})
    (tmp_path / str(backwards)).mkdir()
    task.prepare(str(tmp_path / str(backwards)))
    vocabulary = ["", "[UNK]"] + task.vectorizer.get_vocabulary()[2:]
    (inputs, targets), = task.dataset("train", 500).take(1).as_numpy_iterator()
    row = inputs["token_ids"][0]
    words = [vocabulary[i] for i in np.append(row[row > 0], targets[0][targets[0] > 0][-1])]
    np.testing.assert_array_equal(inputs["next_ids"], targets)
    read = inputs["token_ids"][:, 1:] > 0   # each word read is the one predicted a step before
    np.testing.assert_array_equal(inputs["token_ids"][:, 1:][read], targets[:, :-1][read])
    assert ((targets > 0).sum(1) == (inputs["token_ids"] > 0).sum(1)).all()
    assert " ".join(words[::-1] if backwards else words) in SENTENCES


def test_the_model_learns_and_its_export_scores_the_test_split_as_training_did(forward, text_file):
  path, metrics = forward
  assert metrics["status"] == "completed"
  assert metrics["test"]["perplexity"] < 4   # 13 words, each sentence nearly determined by its first two
  served, _ = exports.load(path)
  from engine import evaluation
  result = evaluation.evaluate_export(path, DataConfig(), {"prime": "the cat", "num_words": 5, "temperature": 0.0})
  assert result["test"]["perplexity"] == pytest.approx(metrics["test"]["perplexity"], rel=1e-4)
  assert result["samples"][0]["text"].startswith("the cat sat on the ")   # mat or log: both follow "sat on the"
  batch = served(prime=tf.constant(["the dog", "a"]), num_words=tf.constant([3, 1]), temperature=tf.constant([0., 0.]))
  assert [len(t.split()) for t in batch["text"].numpy().astype(str)] == [3, 1]


def test_a_backward_model_writes_the_words_before_its_prime(backward):
  path, metrics = backward
  served, _ = exports.load(path)
  text = served.generate(prime="on the mat .", num_words=3, temperature=0.0, top_k=0)["text"].numpy().decode()
  assert text in ("the cat sat", "the dog sat")   # in reading order: "sat" is the word next to the prime
  assert metrics["test"]["perplexity"] < 4


@pytest.mark.parametrize("prime,num_words,message", [
    ("zebra", 5, "prime holds no word the model knows"), ("the", 0, "num_words must be >= 1")])
def test_bad_generation_inputs_are_clear_errors(forward, prime, num_words, message):
  served, _ = exports.load(forward[0])
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    served.generate(prime=prime, num_words=num_words, temperature=0.0, top_k=0)


# -- init_from ---------------------------------------------------------------------------------

def _target_model(resolved, path):
  from tasks import create
  task = create(resolved)
  os.makedirs(path, exist_ok=True)
  sources = config.read_sources(resolved.init_from)
  transfer.carry_vocabulary(sources[0].path, task, path)
  return models.build(resolved.model, resolved.topology, task.prepare(path)), sources


def test_weights_land_by_role_and_the_vocabulary_comes_along(forward, backward, text_file, tmp_path, mock_tfds):
  resolved = config.resolve("sentiment", "bilstm", data=DataConfig(), init_from=(backward[0], forward[0]))
  assert (resolved.model.units, resolved.model.embedding_dim) == (16, 8)   # taken from the sources
  assert resolved.options["vocab_size"] == 20_000
  model, sources = _target_model(resolved, str(tmp_path / "bilstm"))
  with open(tmp_path / "bilstm" / "vocabulary.txt") as f, open(os.path.join(forward[0], "vocabulary.txt")) as g:
    assert f.read() == g.read()
  landed = transfer.initialize(model, sources)
  assert landed == [f"embedding <- {forward[0]}", f"recurrent layer 1 forward <- {forward[0]}",
                    f"recurrent layer 1 backward <- {backward[0]}"]
  trained = {name: transfer._trained_model(s) for name, s in zip(("backward", "forward"), sources)}
  bi = model.get_layer("birecurrent_lstm_0")
  for direction, layer in (("forward", bi.forward_layer), ("backward", bi.backward_layer)):
    source = trained[direction].get_layer("recurrent_lstm_0")
    for a, b in zip(layer.get_weights(), source.get_weights()):
      np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0],
                                trained["forward"].get_layer("embedding").get_weights()[0])


@pytest.mark.parametrize("task,model,sources,overrides,options,message", [
    ("sentiment", "gru", ["forward"], {}, {}, "has lstm cells; --model=gru has gru cells"),
    ("sentiment", "lstm", ["forward"], {"units": 32}, {}, "--units=32 differs from --init_from's units 16"),
    ("sentiment", "lstm", ["forward"], {}, {"vocab_size": 100}, "--vocab_size=100 differs"),
    ("sentiment", "bilstm", ["forward"], {}, {}, "needs a forward and a backward source"),
    ("sentiment", "lstm", ["backward"], {}, {}, "Pass one forward source"),
    ("sentiment", "lstm", ["forward", "backward"], {}, {}, "Pass one forward source"),
    ("sentiment", "stacked_lstm", ["forward"], {}, {}, "has 1 recurrent layer(s)"),
    ("translation", "bigru_attention", ["forward"], {}, {}, "--task=translation cannot start from"),
    ("language_model", "lstm", ["backward"], {}, {"backwards": True, "vocab_size": 20_000}, None),
])
def test_sources_that_cannot_fit_are_named(forward, backward, mock_tfds, task, model, sources, overrides, options,
                                           message):
  paths = tuple({"forward": forward[0], "backward": backward[0]}[s] for s in sources)
  resolve = lambda: config.resolve(task, model, overrides=overrides, data=DataConfig(), options=options,  # noqa: E731
                                   init_from=paths)
  if message is None:
    assert resolve().init_from == paths
    return
  with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
    resolve()


def test_a_short_file_and_sources_of_two_vocabularies_or_without_weights_are_named(forward, tmp_path, mock_tfds):
  short = tmp_path / "short.txt"
  short.write_text("a b c\n" * 10)
  with pytest.raises(UserError, match="holds 10 non-empty lines; a language model reads one document per line"):
    LanguageModel(DataConfig(data_file=str(short))).check_data()
  other_text = tmp_path / "other.txt"
  other_text.write_text("\n".join(["one two three four ."] * 40))
  other = tmp_path / "other"
  _train(other, str(other_text), epochs=1, options={"backwards": True})
  with pytest.raises(UserError, match=r"the --init_from runs have different vocabularies \(vocabulary.txt\)"):
    config.resolve("sentiment", "bilstm", init_from=(forward[0], str(other)))
  os.remove(other / "best.weights.h5")
  with pytest.raises(UserError, match="has no trained weights yet"):
    config.resolve("sentiment", "lstm", options={"vocab_size": 20_000}, init_from=(str(other),))


def test_a_source_that_is_no_run_or_reads_other_tokens_is_named(tmp_path, mock_tfds):
  with pytest.raises(UserError, match="holds no run"):
    config.resolve("sentiment", "lstm", init_from=(str(tmp_path),))
  textgen = tmp_path / "chars"
  textgen.mkdir()
  resolved = config.resolve("textgen", "lstm", data=DataConfig(data_file="x.txt"))
  (textgen / "config.json").write_text(json.dumps(resolved.to_json()))
  (textgen / "best.weights.h5").write_bytes(b"")
  with pytest.raises(UserError, match="a textgen run, which reads characters; --task=sentiment reads words"):
    config.resolve("sentiment", "lstm", init_from=(str(textgen),))


def test_a_backward_model_starts_from_a_backward_one(backward, text_file, tmp_path):
  resolved = config.resolve("language_model", "lstm", data=DataConfig(data_file=text_file),
                            options={"backwards": True}, init_from=(backward[0],))
  model, sources = _target_model(resolved, str(tmp_path / "again"))
  assert transfer.initialize(model, sources, backwards=True) == [
      f"embedding <- {backward[0]}", f"recurrent layer 1 backward <- {backward[0]}"]
  source = transfer._trained_model(sources[0]).get_layer("recurrent_lstm_0")
  for a, b in zip(model.get_layer("recurrent_lstm_0").get_weights(), source.get_weights()):
    np.testing.assert_array_equal(a, b)


def test_a_fine_tuned_run_records_its_source_and_resumes_without_starting_over(forward, text_file, tmp_path,
                                                                               monkeypatch):
  path = tmp_path / "tuned"
  undo = kill_at_step(monkeypatch, 3)
  from tests.conftest import Killed
  with pytest.raises(Killed):
    _train(path, text_file, epochs=2, init_from=(forward[0],), checkpoint_every_steps=1)
  undo()
  before = json.loads((path / "metrics.json").read_text())["init_from"]
  copies = []
  original = transfer.initialize
  monkeypatch.setattr(transfer, "initialize", lambda *args, **kw: copies.append(1) or original(*args, **kw))
  metrics = _train(path, text_file, epochs=2, init_from=(forward[0],), checkpoint_every_steps=1)
  assert not copies   # the resumed run went on from its checkpoint, not from the source again
  assert metrics["status"] == "completed" and metrics["init_from"] == before
  assert before["weights"] == [f"embedding <- {forward[0]}", f"recurrent layer 1 forward <- {forward[0]}"]
  assert before["runs"][0]["task"] == "language_model" and before["runs"][0]["status"] == "completed"
  saved = json.loads((path / "config.json").read_text())
  assert saved["init_from"] == [forward[0]]
  assert f"--init_from={forward[0]}" in (path / "flags.txt").read_text()
  # It starts where the source is, well ahead of a fresh model after the same epoch.
  fresh = _train(tmp_path / "fresh", text_file, epochs=1)
  tuned = metrics["history"][0]["validation"]["perplexity"]
  assert tuned < fresh["history"][0]["validation"]["perplexity"] and tuned < 1.5 * forward[1]["validation"]["perplexity"]


def test_a_fine_tuned_run_resumes_after_its_source_has_gone(forward, text_file, tmp_path, monkeypatch):
  source, path = tmp_path / "lm", str(tmp_path / "tuned")
  shutil.copytree(forward[0], source)

  def plan_and_train():   # as train.py does: the run directory is looked at before the sources are
    planned, = grid.plan(["language_model"], ["lstm"], overrides={**TINY, "epochs": 2, "checkpoint_every_steps": 1},
                         data=DataConfig(data_file=text_file), options={"sampled_softmax": 4}, model_dir=path,
                         init_from=(str(source),))
    return run.train_and_export(planned.config, planned.path)

  undo = kill_at_step(monkeypatch, 3)
  from tests.conftest import Killed
  with pytest.raises(Killed):
    plan_and_train()
  undo()
  shutil.rmtree(source)   # moved or deleted after the fine-tune started
  metrics = plan_and_train()
  assert metrics["status"] == "completed" and metrics["init_from"]["runs"][0]["run"] == str(source)
  assert json.loads((tmp_path / "tuned" / "config.json").read_text())["model"]["units"] == 16   # still the source's
  # A new run from the missing source is still refused, naming it.
  with pytest.raises(UserError, match=r"--init_from=.*lm holds no run"):
    grid.plan(["language_model"], ["lstm"], data=DataConfig(data_file=text_file), model_dir=str(tmp_path / "new"),
              init_from=(str(source),))


def test_the_python_api_takes_init_from_as_train_py_does(forward, mock_tfds, monkeypatch, tmp_path):
  from engine import api
  monkeypatch.chdir(os.path.dirname(forward[0]))
  resolved = api.resolve("sentiment", "lstm", init_from=os.path.basename(forward[0]))
  assert resolved.init_from == (forward[0],) and resolved.model.units == 16
