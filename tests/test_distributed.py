"""tf.distribute: two workers on 127.0.0.1 train mnist in sync; only the chief writes the run directory."""

import json
import os
import re
import socket
import subprocess
import sys

import pytest

from engine import distribute
from common.errors import UserError
from tests.conftest import REPO, TFDS_DIR, requires_tfds


def _free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


@pytest.mark.slow
@requires_tfds("mnist")
def test_two_workers_train_in_sync_and_only_the_chief_writes(tmp_path):
  cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
  run_dir = tmp_path / "run"
  workers = []
  for index in range(2):
    scratch = tmp_path / f"tmp{index}"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "TF_CPP_MIN_LOG_LEVEL": "2",
           "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
    workers.append(subprocess.Popen(
        [sys.executable, os.path.join(REPO, "train.py"), "--model=lstm", "--task=mnist", "--units=8", "--epochs=1",
         "--batch_size=2048", "--strategy=multi_worker", f"--model_dir={run_dir}", f"--data_dir={TFDS_DIR}"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  outputs = [worker.communicate(timeout=600) for worker in workers]
  for worker, (_, err) in zip(workers, outputs):
    assert worker.returncode == 0, err[-3000:]
  epochs = [re.search(r"epoch 1/1: train loss (\S+); validation (.*)", err).groups() for _, err in outputs]
  assert epochs[0] == epochs[1]     # the same global loss and validation figures on both workers
  metrics = json.load(open(run_dir / "metrics.json"))
  assert metrics["status"] == "completed" and metrics["info"]["strategy"].endswith("(2 replica(s))")
  assert sorted(os.listdir(tmp_path)) == ["run", "tmp0", "tmp1"]
  assert not [d for d in os.listdir(tmp_path / "tmp1") if d.startswith("rnnzoo-worker-")]  # the worker cleaned up


def test_strategy_and_precision_errors_name_what_would_work(monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  with pytest.raises(UserError, match="--strategy=multi_worker needs TF_CONFIG"):
    distribute.make_strategy("multi_worker")
  with pytest.raises(UserError, match="--strategy=ring is unknown; choose one of: auto, one_device"):
    distribute.make_strategy("ring")
  monkeypatch.setenv("TF_CONFIG", "{not json")
  with pytest.raises(UserError, match="TF_CONFIG is not valid JSON"):
    distribute.cluster_workers()
  monkeypatch.setattr("tensorflow.config.list_physical_devices", lambda kind=None: [])
  with pytest.raises(UserError, match="--mixed_precision needs an NVIDIA GPU with compute capability 7.0"):
    distribute.set_precision(True)
