"""User mistakes on the command line: one clear message, exit status 2, no run directory left behind."""

import os
import shutil

import pytest

from common.errors import UserError
from tasks import tfds_data
from tasks.base import DataConfig
from tests.conftest import run_cli


@pytest.mark.parametrize("args,message", [
    (["--model=lsmt", "--task=mnist"], "--model=lsmt is not a known model; choose one of: bigru, bigru_attention, bilstm"),
    (["--model=lstm", "--task=imdb"], "--task=imdb is not a known task; choose one of: forecast, language_model, mnist, sentiment"),
    (["--model=lstm", "--task=mnist", "--topology=many_to_many"],
     "--task=mnist cannot be trained as --topology=many_to_many; it supports: many_to_one"),
    (["--model=lstm", "--task=mnist", "--units=0"], "--units=0 is invalid; it must be >= 1"),
    (["--model=lstm", "--task=mnist", "--dropout=1.5"], "--dropout=1.5 is invalid; it must be in [0, 1)"),
    (["--model=lstm", "--task=mnist", "--learning_rate=0"], "--learning_rate=0.0 is invalid; it must be > 0"),
    (["--model=lstm", "--task=sentiment", "--vocab_size=2"], "--vocab_size=2 is invalid; it must be >= 3"),
])
def test_cli_rejects_bad_flags_before_any_work(args, message, tmp_path):
  run_dir = tmp_path / "run"
  result = run_cli("train.py", *args, f"--model_dir={run_dir}")
  assert result.returncode == 2, result.stderr
  assert message in result.stderr
  assert "Traceback" not in result.stderr
  assert not run_dir.exists()


def test_flagfile_is_read(tmp_path):
  flagfile = tmp_path / "flags.txt"
  flagfile.write_text("--model=nosuchmodel\n--task=mnist\n")
  result = run_cli("train.py", f"--flagfile={flagfile}", f"--model_dir={tmp_path / 'run'}")
  assert result.returncode == 2 and "--model=nosuchmodel is not a known model" in result.stderr


def test_missing_manual_files_are_named(tmp_path):
  empty = tmp_path / "empty"
  empty.mkdir()
  result = run_cli("train.py", "--model=lstm", "--task=mnist", f"--data_dir={empty}", f"--manual_dir={empty}",
                   f"--model_dir={tmp_path / 'run'}")
  assert result.returncode == 2, result.stderr
  assert f"--manual_dir={empty} lacks train-images-idx3-ubyte.gz" in result.stderr
  assert not (tmp_path / "run").exists()


def test_offline_without_data_says_which_flags_fix_it(tmp_path, monkeypatch):
  monkeypatch.setattr(tfds_data, "_online", lambda: False)
  with pytest.raises(UserError) as error:
    tfds_data.ensure_prepared("mnist", DataConfig(data_dir=str(tmp_path)), ("train-images-idx3-ubyte.gz",))
  text = str(error.value)
  assert "'mnist' is not prepared" in text and "offline" in text
  assert "--data_dir=" in text and "--manual_dir=<folder holding train-images-idx3-ubyte.gz>" in text


def test_evaluate_needs_exactly_one_target(tmp_path):
  result = run_cli("evaluate.py")
  assert result.returncode == 2 and "exactly one of --model_dir" in result.stderr
  result = run_cli("evaluate.py", f"--model_dir={tmp_path}")
  assert result.returncode == 2 and "holds no SavedModel" in result.stderr
  result = run_cli("evaluate.py", f"--runs={tmp_path}")
  assert result.returncode == 2 and "holds no run directories" in result.stderr
  result = run_cli("evaluate.py", f"--model_dir={tmp_path}", "--temperature=-0.5")  # before the run is read
  assert result.returncode == 2 and "--temperature=-0.5 is invalid; it must be >= 0 (0: greedy)" in result.stderr


def test_non_empty_foreign_directory_is_refused(tmp_path):
  (tmp_path / "notes.txt").write_text("mine")
  result = run_cli("train.py", "--model=lstm", "--task=mnist", f"--model_dir={tmp_path}")
  assert result.returncode == 2 and "is not empty and holds no run" in result.stderr
  assert os.listdir(tmp_path) == ["notes.txt"]


def test_stray_arguments_are_refused(tmp_path):
  result = run_cli("train.py", "lstm", "--model=lstm", "--task=mnist", f"--model_dir={tmp_path / 'run'}")
  assert result.returncode == 2 and "unexpected arguments lstm; every option is a --flag" in result.stderr


def test_a_model_dir_that_cannot_be_created_or_has_no_room_is_refused(tmp_path, monkeypatch):
  from engine.run_dir import RunDir
  a_file = tmp_path / "a_file"
  a_file.write_text("x")
  with pytest.raises(UserError, match="cannot be created: .*a_file is a file, not a directory"):
    RunDir(str(a_file / "run")).check_writable()
  monkeypatch.setattr("shutil.disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 2**20, 2**20))
  with pytest.raises(UserError, match="is on a disk with 1 MB free; a run needs at least 200 MB"):
    RunDir(str(tmp_path / "run")).check_writable()
