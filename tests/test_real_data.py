"""End to end on the shared real data (prepared tfds under $RNNZOO_SHARED/tfds)."""

import json
import os

import numpy as np
import pytest

from tasks import sentiment
from tasks.base import DataConfig
from tests.conftest import TFDS_DIR, requires_tfds, run_cli


@requires_tfds("imdb_reviews")
@pytest.mark.integration
def test_imdb_reviews_are_bucketed_right_padded_and_all_counted(tmp_path):
  task = sentiment.Sentiment(DataConfig(data_dir=TFDS_DIR), {"vocab_size": 5_000, "max_tokens": 300})
  io = task.prepare(str(tmp_path))
  assert io.input_size == 5_000
  assert (tmp_path / "vocabulary.txt").exists()
  examples, widths = 0, []
  for ids, labels in task.dataset("validation", 64):
    ids = ids.numpy()
    lengths = (ids != 0).sum(axis=1)
    assert ids.shape[1] <= 300 and lengths.max() == ids.shape[1]
    assert all((row[n:] == 0).all() and (row[:n] != 0).all() for row, n in zip(ids, lengths))  # right-padded
    examples += len(labels)
    widths.append(ids.shape[1] / max(lengths.mean(), 1))
  assert examples == 2500                      # train[90%:] of 25,000
  assert np.median(widths) < 1.6               # buckets keep padding small


@requires_tfds("mnist")
@pytest.mark.integration
@pytest.mark.slow
def test_mnist_grid_train_evaluate_compare(tmp_path):
  root = tmp_path / "runs"
  result = run_cli("train.py", "--model=lstm,gru", "--task=mnist", f"--data_dir={TFDS_DIR}", "--epochs=1",
                   "--units=32", f"--model_dir={root}")
  assert result.returncode == 0, result.stderr[-3000:]
  metrics = json.loads((root / "mnist" / "lstm" / "metrics.json").read_text())
  assert metrics["status"] == "completed" and metrics["test"]["accuracy"] > 0.7   # chance is 0.1
  assert (root / "mnist" / "gru" / "export" / "1" / "saved_model.pb").exists()   # TF Serving's layout

  result = run_cli("evaluate.py", f"--model_dir={root / 'mnist' / 'lstm'}", f"--data_dir={TFDS_DIR}")
  assert result.returncode == 0, result.stderr[-3000:]
  served = json.loads(result.stdout)
  assert served["test"]["accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-6)

  result = run_cli("evaluate.py", f"--runs={root}")
  assert result.returncode == 0, result.stderr[-3000:]
  table = (root / "comparison.md").read_text()
  assert "| mnist | mnist | lstm | many_to_one |" in table and "| mnist | mnist | gru | many_to_one |" in table
  assert (root / "comparison.png").stat().st_size > 1000
  assert os.path.isdir(root / "mnist" / "lstm" / "logs" / "train")
