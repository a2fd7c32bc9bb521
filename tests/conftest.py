import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The shared real data lives beside the checkout; tests point flags at it, the code never does.
SHARED = os.environ.get("RNNZOO_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
TFDS_DIR = os.path.join(SHARED, "tfds")

import tests.synthetic  # noqa: E402,F401  (registers the toy tasks)


def requires_tfds(*names):
  missing = [n for n in names if not os.path.isdir(os.path.join(TFDS_DIR, n))]
  return pytest.mark.skipif(bool(missing), reason=f"prepared tfds data {missing} not found under {TFDS_DIR} "
                            "(set RNNZOO_SHARED to the folder holding tfds/)")


@pytest.fixture
def mock_tfds(monkeypatch):
  """tfds mock data (random images and text, 48 examples per split) instead of the real datasets."""
  import tensorflow_datasets as tfds
  from tasks import tfds_data
  monkeypatch.setattr(tfds_data, "ensure_prepared", lambda name, data, manual_files=(): tfds.builder(name))
  with tfds.testing.mock_data(num_examples=48, policy=tfds.testing.MockPolicy.USE_CODE):
    yield


class Killed(Exception):
  """Stands in for SIGKILL inside the process."""


def kill_at_step(monkeypatch, step):
  """Makes training die just before its `step`-th step (counted from this call); returns a function undoing it."""
  from engine.loop import Trainer
  original, calls = Trainer._train_steps, [0]
  monkeypatch.setattr(Trainer, "max_steps_per_call", 1)   # one step per graph call: the kill falls between two

  def dies(self, iterator, count):
    calls[0] += 1
    if calls[0] == step:
      raise Killed()
    return original(self, iterator, count)

  monkeypatch.setattr(Trainer, "_train_steps", dies)
  return lambda: monkeypatch.setattr(Trainer, "_train_steps", original)


def run_cli(script, *args, env=None, timeout=600):
  """Runs train.py or evaluate.py in a fresh process; returns the CompletedProcess."""
  return subprocess.run([sys.executable, os.path.join(REPO, script), *args], capture_output=True, text=True,
                        timeout=timeout, cwd=REPO, env={**os.environ, **(env or {})})
