"""Faults and hostile inputs (docs/reliability.md, "How we test faults"): lost or damaged files, signals, odd
data; each gets one clear message or is recovered from, never a silent wrong result or lost work."""

import json
import logging
import os
import random
import re
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from common import exports
from common.errors import UserError
from engine import compare, config, run
from tasks.base import DataConfig
from tests.conftest import REPO, Killed, kill_at_step, run_cli

VERSE = "to be or not to be, that is the question.\n"


def _toy(**overrides):
  return config.resolve("toy_classify", "lstm", overrides={"dropout": 0.2, **overrides})


def _text(tmp_path, text=VERSE * 400, name="verse.txt"):
  path = tmp_path / name
  path.write_text(text, encoding="utf-8")
  return str(path)


# -- files lost or damaged ---------------------------------------------------------------------------------------


def test_a_lost_checkpoint_index_is_rebuilt_and_the_run_resumes_to_the_uninterrupted_figures(tmp_path, monkeypatch,
                                                                                             caplog):
  monkeypatch.setattr("engine.loop.CHECKPOINT_EVERY_SECONDS", 10**9)
  straight = run.train_and_export(_toy(deterministic=True), str(tmp_path / "straight"))
  path = str(tmp_path / "run")
  revive = kill_at_step(monkeypatch, 12)
  with pytest.raises(Killed):
    run.train_and_export(_toy(deterministic=True, checkpoint_every_steps=5), path)
  revive()
  os.remove(os.path.join(path, "checkpoints", "checkpoint"))   # the state file only; ckpt-* are intact
  with caplog.at_level(logging.INFO, logger="rnnzoo"):
    resumed = run.train_and_export(_toy(deterministic=True, checkpoint_every_steps=5), path)
  assert "was missing or unreadable; rebuilt it from ckpt-8, ckpt-10" in caplog.text
  assert re.search(r"Resumed from \S+ckpt-10 \(epoch 2, step 10\)", caplog.text)
  assert resumed["test"] == straight["test"] and [h["epoch"] for h in resumed["history"]] == [1, 2]


def test_a_damaged_metrics_file_is_moved_aside_and_the_run_goes_on_from_its_checkpoints(tmp_path, caplog):
  path = tmp_path / "run"
  first = run.train_and_export(_toy(epochs=1), str(path))
  (path / "metrics.json").write_text('{"status": "compl')   # truncated by a crash
  with caplog.at_level(logging.WARNING, logger="rnnzoo"):
    again = run.train_and_export(_toy(epochs=1), str(path))
  assert "metrics.json was unreadable" in caplog.text and (path / "metrics.json.unreadable").exists()
  assert again["status"] == "completed" and again["test"] == first["test"]


def test_a_damaged_export_is_named_and_train_py_exports_a_completed_run_again(tmp_path, caplog):
  path = tmp_path / "run"
  run.train_and_export(_toy(epochs=1), str(path))
  expected = exports.load(str(path))[0](tf.constant([[7, 3, 0]]))["probabilities"].numpy()
  variables = next((path / "export" / "1" / "variables").glob("variables.data-*"))
  variables.write_bytes(variables.read_bytes()[:40])
  with pytest.raises(UserError, match=r"export/1 is damaged: variables/ cannot be read .*Run the train.py command"):
    exports.load(str(path))
  with caplog.at_level(logging.WARNING, logger="rnnzoo"):
    run.train_and_export(_toy(epochs=1), str(path))
  assert "is complete but its export is not usable" in caplog.text
  np.testing.assert_allclose(exports.load(str(path))[0](tf.constant([[7, 3, 0]]))["probabilities"], expected,
                             atol=1e-6)
  assert exports.find(str(path)) == str(path / "export" / "2")   # the next version, for TF Serving to pick up
  (path / "export" / "2" / "saved_model.pb").write_bytes(b"truncated")
  with pytest.raises(UserError, match=r"export/2 is damaged: saved_model.pb cannot be read"):
    exports.load(str(path))
  (path / "export" / "2" / "assets" / exports.CONFIG_ASSET).unlink()
  with pytest.raises(UserError, match=r"export/2 is not a readable RNN Zoo export: .*rnnzoo_config.json"):
    exports.load(str(path))


@pytest.mark.parametrize("content,reason", [("null", "it holds a NoneType"), ("[1, 2]", "it holds a list"),
                                            ('{"test": {"accuracy": "0.9"}}', "is '0.9', not a number"),
                                            ("{not json", "Expecting property name")])
def test_one_bad_metrics_file_is_skipped_and_the_comparison_still_printed(tmp_path, content, reason, caplog):
  good = tmp_path / "runs" / "toy" / "good"
  run.train_and_export(_toy(epochs=1), str(good))
  bad = tmp_path / "runs" / "toy" / "bad"
  bad.mkdir()
  (bad / "config.json").write_text("{}")
  (bad / "metrics.json").write_text(content)
  with caplog.at_level(logging.WARNING, logger="rnnzoo"):
    runs = compare.collect(str(tmp_path / "runs"))
  assert [r["run"] for r in runs] == [os.path.join("toy", "good")]
  assert reason in caplog.text
  assert "toy_classify" in compare.table(runs)


def test_results_are_readable_by_others_on_a_shared_machine(tmp_path):
  path = tmp_path / "run"
  run.train_and_export(_toy(epochs=1), str(path))
  for name in ("config.json", "metrics.json"):
    assert stat.S_IMODE(os.stat(path / name).st_mode) & 0o044 == 0o044, name


def test_a_users_own_empty_directory_is_emptied_not_removed_when_a_run_fails(tmp_path, monkeypatch):
  mine = tmp_path / "mine"
  mine.mkdir()
  monkeypatch.setattr("tests.synthetic.ToyClassify.prepare",
                      lambda self, *a, **k: (_ for _ in ()).throw(UserError("a mistake")))
  with pytest.raises(UserError):
    run.train_and_export(_toy(epochs=1), str(mine))
  assert mine.is_dir() and os.listdir(mine) == []
  with pytest.raises(UserError):
    run.train_and_export(_toy(epochs=1), str(tmp_path / "new"))
  assert not (tmp_path / "new").exists()


def test_a_run_directory_that_cannot_be_written_is_refused_before_its_lock(tmp_path, monkeypatch):
  path = tmp_path / "run"
  run.train_and_export(_toy(epochs=1), str(path))
  # Tests run as root, which file modes do not stop: the refusal is simulated where the check writes.
  def read_only(*args, **kwargs):
    raise PermissionError(13, "Permission denied")
  monkeypatch.setattr("tempfile.TemporaryFile", read_only)
  with pytest.raises(UserError, match=r"--model_dir=.*run cannot be written \(.*Permission denied\)"):
    run.check(_toy(epochs=2), str(path))


# -- signals -----------------------------------------------------------------------------------------------------

TEXTGEN = ["--model=lstm", "--task=textgen", "--units=16", "--embedding_dim=8", "--sequence_length=16",
           "--batch_size=16", "--epochs=3", "--dropout=0.1", "--checkpoint_every_steps=4", "--deterministic"]


def _start(flags, path):
  return subprocess.Popen([sys.executable, os.path.join(REPO, "train.py"), *flags, f"--model_dir={path}"],
                          cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def _wait_for(predicate, timeout=300):
  deadline = time.monotonic() + timeout
  while not predicate():
    if time.monotonic() > deadline:
      raise AssertionError("timed out")
    time.sleep(0.002)


@pytest.mark.slow
def test_sigterm_stops_a_run_with_a_checkpoint_and_the_same_command_resumes_it(tmp_path):
  flags = [*TEXTGEN, f"--data_file={_text(tmp_path)}"]
  straight = run_cli("train.py", *flags, f"--model_dir={tmp_path / 'straight'}")
  assert straight.returncode == 0, straight.stderr[-2000:]
  path = tmp_path / "stopped"
  process = _start(flags, path)
  _wait_for(lambda: list(path.glob("checkpoints/ckpt-*.index")))
  process.send_signal(signal.SIGTERM)
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 128 + signal.SIGTERM, stderr[-2000:]
  assert "Traceback" not in stderr and "stopped by SIGTERM" in stderr
  metrics = json.loads((path / "metrics.json").read_text())
  assert metrics["status"] == "stopped" and "run the same command to resume" in metrics["error"]
  resumed = run_cli("train.py", *flags, f"--model_dir={path}")
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  expected = json.loads((tmp_path / "straight" / "metrics.json").read_text())
  assert json.loads((path / "metrics.json").read_text())["test"] == expected["test"]


@pytest.mark.slow
def test_runs_killed_at_random_points_end_with_the_uninterrupted_figures(tmp_path):
  """SIGKILL during a step, during a checkpoint write and during the export, then the same command until done."""
  flags = [*TEXTGEN, f"--data_file={_text(tmp_path)}"]
  straight = run_cli("train.py", *flags, f"--model_dir={tmp_path / 'straight'}")
  assert straight.returncode == 0, straight.stderr[-2000:]
  expected = json.loads((tmp_path / "straight" / "metrics.json").read_text())["test"]
  rng = random.Random(int(os.environ.get("RNNZOO_FAULT_SEED", "0")))
  path = tmp_path / "killed"
  checkpoints = path / "checkpoints"
  moments = {
      "during a step": lambda: list(checkpoints.glob("ckpt-*.index")) and time.sleep(rng.uniform(0, 0.5)) is None,
      "during a checkpoint write": lambda: any("temp" in p.name for p in checkpoints.glob("*")),
      "during the export": lambda: (path / "export.partial").exists(),
  }
  hit = []
  for moment, reached in moments.items():
    process = _start(flags, path)
    try:
      _wait_for(lambda: reached() or process.poll() is not None)
      if process.poll() is None:
        hit.append(moment)
    finally:
      process.kill()
      process.wait()
  print("killed", ", ".join(hit))
  assert "during a step" in hit
  finished = run_cli("train.py", *flags, f"--model_dir={path}")
  assert finished.returncode == 0, finished.stderr[-2000:]
  metrics = json.loads((path / "metrics.json").read_text())
  assert metrics["status"] == "completed" and metrics["test"] == expected
  served = exports.load(str(path))[0]
  assert served.score(text=tf.constant([VERSE]))["predicted_chars"].numpy()[0] == len(VERSE) - 1


# -- data and flags --------------------------------------------------------------------------------------------


def test_a_text_too_short_for_one_training_window_is_refused_before_training(tmp_path):
  data = DataConfig(data_file=_text(tmp_path, VERSE * 4))   # 168 characters: 151 to train on
  resolved = config.resolve("textgen", "lstm", data=data, options={"sequence_length": 128})
  with pytest.raises(UserError, match=r"holds 151 characters, too few for one training window of "
                                      r"--sequence_length=128; it needs 256 \(a file of 285\+ characters\)"):
    run.check(resolved, str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()
  carried = config.resolve("textgen", "lstm", overrides={"batch_size": 128}, data=data,
                           options={"sequence_length": 2, "carry_state": True})
  with pytest.raises(UserError, match=r"in each of --batch_size=128 rows; it needs 258"):
    run.check(carried, str(tmp_path / "run"))


def test_a_text_of_white_space_only_is_refused(tmp_path):
  resolved = config.resolve("textgen", "lstm", data=DataConfig(data_file=_text(tmp_path, " \n\t\n" * 100)))
  with pytest.raises(UserError, match=r"holds only white space \(400 characters\)"):
    run.check(resolved, str(tmp_path / "run"))


def test_validation_loss_is_nats_per_char_however_short_the_last_pieces(tmp_path):
  resolved = config.resolve("textgen", "lstm", overrides={"units": 8, "embedding_dim": 4, "epochs": 1,
                                                          "batch_size": 7}, data=DataConfig(data_file=_text(tmp_path)),
                            options={"sequence_length": 16})
  metrics = run.train_and_export(resolved, str(tmp_path / "run"))
  for split in ("validation", "test"):
    assert metrics[split]["loss"] == pytest.approx(metrics[split]["nats_per_char"], rel=1e-5)


def test_a_csv_naming_a_column_twice_is_refused(tmp_path):
  path = tmp_path / "series.csv"
  path.write_text("date,load,load\n" + "".join(f"t{i},{i},{-i}\n" for i in range(300)))
  resolved = config.resolve("forecast", "gru", data=DataConfig(data_file=str(path)),
                            options={"input_length": 24, "horizon": 6})
  with pytest.raises(UserError, match=r"line 1: the header names column 'load' more than once"):
    run.check(resolved, str(tmp_path / "run"))


def test_a_latin1_csv_names_the_line_and_column_and_reads_with_its_encoding(tmp_path):
  path = tmp_path / "weather.csv"
  path.write_bytes("date,irradiance W/m\xb2\n".encode("latin-1") + b"".join(b"t%d,%d\n" % (i, i) for i in range(300)))
  options = {"input_length": 24, "horizon": 6}
  resolved = config.resolve("forecast", "gru", data=DataConfig(data_file=str(path)), options=options)
  with pytest.raises(UserError, match=r"is not utf-8 text: line 1, column 20 holds byte 0xb2 .*--encoding=latin-1"):
    run.check(resolved, str(tmp_path / "run"))
  latin = config.resolve("forecast", "gru", data=DataConfig(data_file=str(path), encoding="latin-1"), options=options)
  run.check(latin, str(tmp_path / "run"))
  with pytest.raises(UserError, match=r"--encoding=klingon is not a text encoding"):
    run.check(config.resolve("forecast", "gru", data=DataConfig(data_file=str(path), encoding="klingon"),
                             options=options), str(tmp_path / "run"))


def test_a_very_long_translation_pair_is_left_out_of_training_with_a_note(tmp_path, caplog):
  import tasks
  path = tmp_path / "pairs.tsv"
  long_pair = ("wort " * 600).strip() + "\t" + ("word " * 600).strip()
  path.write_text("ein hund .\ta dog .\n" * 60 + long_pair + "\n", encoding="utf-8")
  task = tasks.create(config.resolve("translation", "gru", data=DataConfig(data_file=str(path))))
  sources, targets = task.pairs()["train"]
  task._pairs["train"] = (sources + [("wort " * 600).strip()], targets + [("word " * 600).strip()])   # surely in train
  task.prepare(str(tmp_path))
  with caplog.at_level(logging.WARNING, logger="rnnzoo"):
    batches = list(task.dataset("train", 64).as_numpy_iterator())
  assert sum(len(t) for _, t in batches) == len(sources)
  assert max(inputs["source_ids"].shape[1] for inputs, _ in batches) <= 100
  assert f"Left out 1 of {len(sources) + 1} training pairs with a side longer than --max_length=100" in caplog.text


def test_flags_of_the_wrong_type_or_missing_exit_2(tmp_path):
  for args, message in ((["--model=lstm", "--task=mnist", "--units=abc"], "--units"),
                        (["--model=lstm", "--task=mnist", "--epochs=1.5"], "--epochs"),
                        (["--model=lstm"], "--task")):
    result = run_cli("train.py", *args, f"--model_dir={tmp_path / 'run'}")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
  assert not (tmp_path / "run").exists()


def test_pooling_for_a_topology_that_does_not_pool_is_refused():
  with pytest.raises(UserError, match=r"--pooling=max applies to many_to_one models .* --topology=one_to_many does "
                                      r"not pool"):
    config.resolve("mnist", "lstm", "one_to_many", overrides={"pooling": "max"})
  with pytest.raises(UserError, match=r"--task=mnist has no seq2seq topology: use a preset without attention"):
    config.resolve("mnist", "lstm_attention")


def test_a_batch_larger_than_the_data_is_warned_about(tmp_path, caplog):
  with caplog.at_level(logging.WARNING, logger="rnnzoo"):
    run.train_and_export(_toy(epochs=1, batch_size=1000), str(tmp_path / "run"))
  assert "The training data holds 128 examples, fewer than --batch_size=1000" in caplog.text


def test_evaluate_writes_a_comparison_into_a_new_folder(tmp_path):
  run.train_and_export(_toy(epochs=1), str(tmp_path / "runs" / "a"))
  output = tmp_path / "new" / "folder" / "table"
  from engine import evaluation  # noqa: F401  (the same module evaluate.py uses)
  result = subprocess.run([sys.executable, "-c", f"""
import sys; sys.path.insert(0, {REPO!r}); sys.argv = ["evaluate.py", "--runs={tmp_path / 'runs'}", "--output={output}"]
import tests.synthetic, runpy
runpy.run_path({os.path.join(REPO, 'evaluate.py')!r}, run_name="__main__")
"""], capture_output=True, text=True, timeout=300, cwd=REPO)
  assert result.returncode == 0, result.stderr[-2000:]
  assert (tmp_path / "new" / "folder" / "table.md").exists()
