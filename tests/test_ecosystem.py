"""At home with TensorBoard, TF Serving, absl and notebooks: full --help, --print_config, flags.txt replays a run,
HParams / text / image summaries, provenance in metrics.json, the Python API, comparison charts."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from engine import api
from tests.conftest import run_cli

VERSE = "to be or not to be, that is the question.\n"


def _events(directory):
  """{tag: [(step, value or tensor)]} of every event file below `directory`."""
  found = {}
  for path in glob.glob(os.path.join(directory, "**", "events.out.tfevents.*"), recursive=True):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        found.setdefault(value.tag, []).append((event.step, value))
  return found


def test_help_lists_every_flag_that_applies_with_its_defaults_and_no_startup_noise():
  result = run_cli("train.py", "--help")
  assert result.returncode == 0
  for flag in ("--data_dir", "--manual_dir", "--data_file", "--encoding", "--sequence_length", "--horizon",
               "--beam_size", "--tag_scheme", "--units", "--[no]print_config", "--head"):
    assert f"  {flag}:" in result.stdout, flag
  assert "tuned by task: forecast 256, language_model 512, textgen 512, translation 256" in " ".join(result.stdout.split())   # --units, as wrapped
  assert "<softmax|crf>" in result.stdout and "<many_to_one|" not in result.stdout      # enums shown as choices
  assert "absl::InitializeLog" not in result.stderr and "oneDNN custom operations" not in result.stderr
  evaluated = run_cli("evaluate.py", "--help")
  for flag in ("--prime", "--classifier", "--beam_size", "--temperature", "--data_dir", "--batch_size"):
    assert f"  {flag}:" in evaluated.stdout, flag


def test_print_config_shows_the_resolved_settings_and_trains_nothing(tmp_path):
  result = run_cli("train.py", "--model=bilstm", "--task=sentiment", "--units=64", "--print_config",
                   f"--model_dir={tmp_path / 'run'}")
  assert result.returncode == 0, result.stderr[-2000:]
  shown = json.loads(result.stdout)
  assert shown["model_dir"] == str(tmp_path / "run") and shown["model"]["units"] == 64
  assert shown["model"]["pooling"] == "max_mean" and shown["options"]["vocab_size"] == 5000   # tuned defaults
  assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def textgen_run(tmp_path_factory):
  root = tmp_path_factory.mktemp("textgen")
  (root / "verse.txt").write_text(VERSE * 300, encoding="utf-8")
  path = root / "run"
  result = run_cli("train.py", "--model=lstm", "--task=textgen", f"--data_file={root / 'verse.txt'}", "--units=16",
                   "--embedding_dim=8", "--sequence_length=16", "--epochs=2", f"--model_dir={path}")
  assert result.returncode == 0, result.stderr[-3000:]
  return path


def test_flags_txt_replays_the_run(textgen_run):
  flags = (textgen_run / "flags.txt").read_text().split("\n")
  assert f"--model_dir={textgen_run}" in flags and "--units=16" in flags and "--nodeterministic" in flags
  replayed = run_cli("train.py", f"--flagfile={textgen_run / 'flags.txt'}")
  assert replayed.returncode == 0, replayed.stderr[-2000:]
  assert "is already complete; skipping" in replayed.stderr   # the same settings: the same run


def test_tensorboard_gets_hparams_final_figures_and_a_generated_passage_each_epoch(textgen_run):
  events = _events(str(textgen_run / "logs"))
  samples = events["samples"]
  assert [step for step, _ in samples] == [1, 2]
  text = tf.make_ndarray(samples[-1][1].tensor).item().decode()
  assert "| prime | generated |" in text
  assert "final/test_nats_per_char" in events and "final/validation_nats_per_char" in events
  assert "_hparams_/session_start_info" in events   # the HParams dashboard's record of this run's settings
  start = events["_hparams_/session_start_info"][0][1].metadata.plugin_data.content
  assert b"model.units" in start and b"options.sequence_length" in start
  assert "epoch_nats_per_char" in events   # the figure users watch, per epoch


def test_metrics_json_says_what_computed_it(textgen_run):
  environment = json.loads((textgen_run / "metrics.json").read_text())["environment"]
  assert environment["tensorflow"] == tf.__version__ and environment["cpu_cores"] == os.cpu_count()
  assert environment["python"].count(".") == 2 and environment["cpu"]
  assert environment["commit"] is None or len(environment["commit"].split("+")[0]) == 40
  assert environment["gpus"] == [] and "recurrent_kernel" in environment


def test_a_drawing_run_shows_its_digits_in_tensorboard(tmp_path, mock_tfds):
  from engine import config, run
  resolved = config.resolve("mnist", "lstm", "one_to_many", {"units": 8, "embedding_dim": 4, "epochs": 1,
                                                              "batch_size": 16})
  run.train_and_export(resolved, str(tmp_path / "draw"))
  images = _events(str(tmp_path / "draw" / "logs"))["drawn_digits"]
  assert len(images) == 1 and images[0][1].metadata.plugin_data.plugin_name == "images"


def test_the_python_api_trains_loads_evaluates_and_compares(tmp_path):
  import tests.synthetic  # noqa: F401  (the toy tasks)
  resolved = api.resolve("toy_classify", "gru", units=4)
  assert resolved.model.units == 4 and resolved.training.epochs == 2   # the toy's tuned default
  built = api.build("toy_classify", "gru", units=4)
  inputs, labels = next(iter(built.task.dataset("train", 8)))
  assert built.model(inputs).shape == (8, 2)
  grid = api.train_grid(["toy_classify"], ["gru", "lstm"], str(tmp_path / "runs"), units=4)
  assert [m["model"] for m in grid] == ["gru", "lstm"] and all(m["status"] == "completed" for m in grid)
  model, task = api.load(str(tmp_path / "runs" / "toy_classify" / "gru"))
  ids = tf.constant([[7, 3, 0]])
  served = api.evaluate(str(tmp_path / "runs" / "toy_classify" / "gru"))
  assert served["test"]["accuracy"] == pytest.approx(grid[0]["test"]["accuracy"], abs=1e-6)
  np.testing.assert_allclose(tf.nn.softmax(model(ids)), tf.nn.softmax(model(ids)))
  table, charts = api.compare(str(tmp_path / "runs"))
  assert "| toy_classify/gru |" in table
  assert [os.path.basename(c) for c in charts] == ["comparison.png", "comparison_tradeoff.png", "comparison_curves.png"]
  with pytest.raises(api.UserError, match="unknown setting\\(s\\) unitz"):
    api.train("toy_classify", "gru", str(tmp_path / "x"), unitz=3)
