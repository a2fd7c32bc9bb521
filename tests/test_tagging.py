"""Sequence labelling: a tiny NER corpus learned with a CRF head and characters, the export on raw sentences and
tokens, chunk F1 through the export, the UD English EWT pipeline, and the mistakes a user can make."""

import json
import os
import random

import numpy as np
import pytest
import tensorflow as tf

import tasks
from common import exports
from common.errors import UserError
from engine import config, evaluation, run
from tasks.base import DataConfig
from tests.conftest import SHARED, run_cli

TYPES = {"Anna": "PER", "Bert": "PER", "Paris": "LOC", "Berlin": "LOC", "Acme": "ORG", "Globex": "ORG"}
EWT_DIR = os.path.join(SHARED, "datasets", "ud_english_ewt")


def ner_corpus(n=300, seed=0):
  """A column-format corpus (word POS tag) of short sentences with PER, LOC and ORG chunks; "New York" is a
  two-word LOC, so I- tags and transitions matter."""
  rng = random.Random(seed)
  lines = ["-DOCSTART- -X- O", ""]
  for _ in range(n):
    a, b = rng.sample(sorted(TYPES), 2)
    sentence = [(a, "B-" + TYPES[a]), (rng.choice(["visits", "likes", "calls"]), "O")]
    if rng.random() < 0.5:
      sentence += [("New", "B-LOC"), ("York", "I-LOC"), ("and", "O")]
    sentence += [(b, "B-" + TYPES[b]), (".", "O")]
    lines += [f"{word} X {tag}" for word, tag in sentence] + [""]
  return "\n".join(lines)


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory):
  root = tmp_path_factory.mktemp("ner")
  (root / "ner.txt").write_text(ner_corpus(), encoding="utf-8")
  resolved = config.resolve("tagging", "bilstm", overrides={
      "units": 16, "embedding_dim": 16, "char_units": 8, "head": "crf", "epochs": 6, "learning_rate": 0.01,
      "batch_size": 16}, data=DataConfig(data_file=str(root / "ner.txt")))
  path = str(root / "run")
  return resolved, path, run.train_and_export(resolved, path)


def test_a_bilstm_crf_with_characters_learns_chunks_and_reports_conlleval_f1(ner_run):
  resolved, path, metrics = ner_run
  assert resolved.model.head == "crf" and resolved.model.char_units == 8
  assert metrics["test"]["accuracy"] > 0.97 and metrics["test"]["f1"] > 0.95, metrics["test"]
  assert "iob" in metrics["info"]["f1"]


def test_the_export_tags_raw_sentences_and_tokens_and_evaluates_as_training_did(ner_run):
  resolved, path, metrics = ner_run
  served, _ = exports.load(path)
  out = served(sentences=tf.constant(["Anna visits New York and Acme .", "Bert likes Paris .", ""]))
  tags = [[t.decode() for t in row] for row in out["tags"].numpy()]
  assert tags[0] == ["B-PER", "O", "B-LOC", "I-LOC", "O", "B-ORG", "O"]
  assert tags[1][:4] == ["B-PER", "O", "B-LOC", "O"] and tags[1][4:] == [""] * 3
  assert out["lengths"].numpy().tolist() == [7, 4, 0] and out["score"].shape == (3,)
  assert out["known"].numpy()[1].tolist() == [True] * 4 + [False] * 3   # padding is no known word
  tokens = served.tag_tokens(tokens=tf.constant([["Globex", "calls", "Berlin", "."]]))
  assert [t.decode() for t in tokens["tags"].numpy()[0]] == ["B-ORG", "O", "B-LOC", "O"]
  assert served(sentences=tf.constant([], tf.string))["tags"].shape[0] == 0   # an empty batch, answered
  report = evaluation.evaluate_export(path)
  assert report["test"]["accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-9)
  assert report["test"]["f1"] == pytest.approx(metrics["test"]["f1"], abs=1e-9)
  assert {row["type"] for row in report["tables"]["per chunk type"]} == {"PER", "LOC", "ORG"}
  assert set(report["samples"][0]) == {"words", "gold", "predicted"}


def test_a_softmax_tagger_of_words_alone_trains_and_serves_probabilities(tmp_path):
  files = []
  for name, seed in (("train", 0), ("valid", 1), ("test", 2)):
    (tmp_path / f"{name}.txt").write_text(ner_corpus(80, seed), encoding="utf-8")
    files.append(str(tmp_path / f"{name}.txt"))
  resolved = config.resolve("tagging", "gru", overrides={"units": 8, "embedding_dim": 8, "char_units": 0, "epochs": 1},
                            data=DataConfig(data_file=",".join(files)))
  task = tasks.create(resolved)
  assert [len(task.sentences()[s]) for s in ("train", "validation", "test")] == [80, 80, 80]
  metrics = run.train_and_export(resolved, str(tmp_path / "run"))
  assert metrics["status"] == "completed" and 0 <= metrics["test"]["accuracy"] <= 1
  served, _ = exports.load(str(tmp_path / "run"))
  out = served(sentences=tf.constant(["Anna likes Paris ."]))
  probabilities = out["probabilities"].numpy()
  assert probabilities.shape == (1, 4) and np.all((probabilities > 0) & (probabilities <= 1))


def test_part_of_speech_tags_get_accuracy_and_a_per_tag_table_not_f1(tmp_path):
  conllu = "".join(f"# sent_id = s{i}\n1\tDogs\tdog\tNOUN\tNNS\t_\t2\tnsubj\t_\t_\n"
                   f"2\tbark\tbark\tVERB\tVBP\t_\t0\troot\t_\t_\n3\t.\t.\tPUNCT\t.\t_\t2\tpunct\t_\t_\n\n"
                   for i in range(60))
  (tmp_path / "pos.conllu").write_text(conllu, encoding="utf-8")
  for scheme, tags in (("upos", {"NOUN", "VERB", "PUNCT"}), ("xpos", {"NNS", "VBP", "."})):
    resolved = config.resolve("tagging", "lstm", overrides={"units": 8, "embedding_dim": 8, "epochs": 1},
                              data=DataConfig(data_file=str(tmp_path / "pos.conllu")), options={"tag_scheme": scheme})
    task = tasks.create(resolved)
    assert task.chunk_scheme() is None
    assert {t for _, ts in task.sentences()["train"] for t in ts} == tags
  metrics = run.train_and_export(resolved, str(tmp_path / "run"))
  assert "f1" not in metrics["test"]
  report = evaluation.evaluate_export(str(tmp_path / "run"))
  assert {row["tag"] for row in report["tables"]["per tag"]} <= {"NNS", "VBP", "."}


@pytest.mark.parametrize("head", ["softmax", "crf"])
def test_a_word_and_character_model_does_not_depend_on_padding(head):
  import dataclasses
  import models
  io = models.IOSpec("tokens", 30, 5, input_name="word_ids", char_vocab=12)
  spec = dataclasses.replace(models.get("stacked_bilstm"), units=6, embedding_dim=5, char_units=3, head=head)
  model = models.build(spec, "many_to_many", io)
  words = np.array([[4, 9, 2, 0], [7, 0, 0, 0]], np.int32)
  chars = np.array([[[2, 5, 3], [2, 6, 7], [2, 8, 3], [2, 3, 0]], [[2, 9, 3], [2, 3, 0], [2, 3, 0], [2, 3, 0]]])
  padded = {"word_ids": np.pad(words, [[0, 0], [0, 3]]),
            "char_ids": np.pad(chars, [[0, 0], [0, 3], [0, 4]]) + np.pad(np.zeros_like(chars), [[0, 0], [0, 3], [0, 4]])}
  padded["char_ids"][:, 4:, :2] = [2, 3]   # padding words are read as "<w></w>", as the task makes them
  short, long = model({"word_ids": words, "char_ids": chars}), model(padded)
  short, long = (short["emissions"], long["emissions"]) if head == "crf" else (short, long)
  np.testing.assert_allclose(short[0, :3], long[0, :3], atol=1e-5)
  np.testing.assert_allclose(short[1, :1], long[1, :1], atol=1e-5)


def test_heads_and_characters_are_refused_where_they_do_not_apply(tmp_path):
  with pytest.raises(UserError, match=r"--head=crf is not an output --task=sentiment can read; it reads: softmax"):
    config.resolve("sentiment", "bilstm", overrides={"head": "crf"})
  with pytest.raises(UserError, match=r"--char_units=16 reads the characters of words, which --task=textgen does not"):
    config.resolve("textgen", "lstm", overrides={"char_units": 16})
  with pytest.raises(UserError, match=r"--tag_scheme does not apply to --task=mnist; it is a setting of --task=tagging"):
    config.resolve("mnist", "lstm", options={"tag_scheme": "xpos"})
  (tmp_path / "tiny.txt").write_text("Anna B-PER\n", encoding="utf-8")
  resolved = config.resolve("tagging", "bilstm", data=DataConfig(data_file=str(tmp_path / "tiny.txt")))
  with pytest.raises(UserError, match=r"gives no sentence to the validation and test split"):
    run.check(resolved, str(tmp_path / "run"))


def test_every_recurrent_preset_without_attention_tags(tmp_path):
  (tmp_path / "ner.txt").write_text(ner_corpus(40), encoding="utf-8")
  import models
  for name in ("stacked_bigru", "birnn", "stacked_lstm"):
    resolved = config.resolve("tagging", name, overrides={"units": 4, "embedding_dim": 4, "char_units": 4,
                                                          "epochs": 1}, data=DataConfig(data_file=str(tmp_path / "ner.txt")))
    assert run.train_and_export(resolved, str(tmp_path / name))["status"] == "completed"
  assert models.get("stacked_bigru").bidirectional


def test_the_report_scores_words_outside_the_vocabulary_apart(tmp_path):
  files = {"train": "the DET\ncat NOUN\nsat VERB\n\nthe DET\ncat NOUN\nsat VERB\n",
           "valid": "the DET\ncat NOUN\n", "test": "the DET\ndog NOUN\nsat VERB\n\nthe DET\nemu NOUN\n"}
  for name, text in files.items():
    (tmp_path / name).write_text(text, encoding="utf-8")
  task = tasks.create(config.resolve("tagging", "lstm", data=DataConfig(
      data_file=",".join(str(tmp_path / name) for name in files))))
  known = {"the": "DET", "cat": "NOUN", "sat": "VERB"}

  def tag(tokens):   # right on every word the vocabulary holds, wrong on the others
    rows = [[t.decode() for t in row] for row in tokens.numpy()]
    return {"tags": tf.constant([[known.get(t, "X") for t in row] for row in rows]),
            "known": tf.constant([[t in known for t in row] for row in rows])}

  report = task._report(tag, 8)
  assert report.metrics["accuracy"] == pytest.approx(3 / 5)
  assert report.metrics["accuracy_unknown_words"] == 0.0
  assert "the 2 test words (40.0%) outside the vocabulary" in report.info["accuracy_unknown_words"]


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(os.path.join(EWT_DIR, "en_ewt-ud-train.conllu")), reason=f"no {EWT_DIR}")
def test_ud_english_ewt_trains_from_the_command_line_and_evaluates_its_export(tmp_path):
  data = [f"--manual_dir={EWT_DIR}", f"--data_dir={tmp_path / 'tfds'}"]
  result = run_cli("train.py", "--model=bilstm", "--task=tagging", "--units=16", "--embedding_dim=16",
                   "--char_units=8", "--epochs=1", f"--model_dir={tmp_path / 'run'}", *data)
  assert result.returncode == 0, result.stderr[-3000:]
  metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
  assert metrics["test"]["accuracy"] > 0.6 and metrics["dataset"] == "ud_english_ewt"
  vocabulary = json.loads((tmp_path / "run" / "vocabulary.json").read_text())
  assert len(vocabulary["tags"]) == 17   # UPOS
  result = run_cli("evaluate.py", f"--model_dir={tmp_path / 'run'}", *data)
  assert result.returncode == 0, result.stderr[-3000:]
  report, _ = json.JSONDecoder().raw_decode(result.stdout)
  assert report["test"]["accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-9)
  assert sum(row["gold"] for row in report["tables"]["per tag"]) == 25094   # every test word counted
  assert 0 < report["test"]["accuracy_unknown_words"] < report["test"]["accuracy"]
