"""Faults: a locked run directory, step checkpoints, diverged losses, determinism."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from common import exports
from engine import cli, config, run
from common.errors import UserError
from engine.loop import Diverged, Trainer
from engine.run_dir import RunDir
from tests.conftest import REPO, TFDS_DIR, Killed, kill_at_step, requires_tfds, run_cli


def _toy(**overrides):
  return config.resolve("toy_classify", "lstm", overrides={"dropout": 0.2, **overrides})


def test_a_run_directory_in_use_is_refused(tmp_path):
  path = str(tmp_path / "run")
  os.makedirs(path)
  RunDir(path).create(_toy())
  held = RunDir(path).acquire()
  try:
    with pytest.raises(UserError, match=f"--model_dir={path} is in use by another live run \\(pid {os.getpid()}\\)"):
      run.check(_toy(), path)
  finally:
    held.close()
  run.check(_toy(), path)   # released: usable again


def test_checkpoint_every_steps_bounds_the_redone_work(tmp_path, monkeypatch):
  monkeypatch.setattr("engine.loop.CHECKPOINT_EVERY_SECONDS", 10**9)
  path = str(tmp_path / "run")
  revive = kill_at_step(monkeypatch, 11)
  with pytest.raises(Killed):
    run.train_and_export(_toy(checkpoint_every_steps=3), path)
  latest = tf.train.latest_checkpoint(os.path.join(path, "checkpoints"))
  assert latest.endswith("-9"), latest   # steps 3, 6, 8 (epoch end) and 9: at most 2 steps are redone
  revive()
  assert run.train_and_export(_toy(checkpoint_every_steps=3), path)["status"] == "completed"


def test_deterministic_runs_repeat_their_figures(tmp_path):
  first = run.train_and_export(_toy(deterministic=True), str(tmp_path / "a"))
  second = run.train_and_export(_toy(deterministic=True), str(tmp_path / "b"))
  assert first["test"] == second["test"] and first["validation"] == second["validation"]


def test_a_diverged_run_is_marked_failed_and_keeps_its_checkpoint(tmp_path, monkeypatch):
  path = str(tmp_path / "run")
  run.train_and_export(_toy(epochs=1), path)
  os.remove(os.path.join(path, "metrics.json"))   # train it further, as if epochs had been raised
  export_before = os.path.getmtime(os.path.join(exports.find(path), "saved_model.pb"))
  monkeypatch.setattr(Trainer, "_replica_train_step",
                      lambda self, inputs, targets: (tf.constant(float("nan")), tf.shape(targets, tf.int64)[0]))
  with pytest.raises(Diverged, match="the training loss became nan at step 9"):
    run.train_and_export(_toy(epochs=2), path)
  metrics = json.load(open(os.path.join(path, "metrics.json")))
  assert metrics["status"] == "failed" and "loss became nan" in metrics["error"]
  assert os.path.getmtime(os.path.join(exports.find(path), "saved_model.pb")) == export_before
  assert tf.train.latest_checkpoint(os.path.join(path, "checkpoints")).endswith("-8")


def test_the_cli_reports_a_diverged_run_in_one_line(capsys):
  @cli.user_errors_exit
  def main(argv):
    raise Diverged("the training loss became nan at step 3")

  with pytest.raises(SystemExit) as exited:
    main(["train.py"])
  assert exited.value.code == 1
  assert capsys.readouterr().err == "error: training failed: the training loss became nan at step 3\n"


@pytest.mark.slow
@requires_tfds("mnist")
def test_sigkilled_run_resumes_from_its_step_checkpoint_to_the_uninterrupted_figures(tmp_path):
  flags = ["--model=lstm", "--task=mnist", "--units=8", "--epochs=1", "--batch_size=256",
           "--checkpoint_every_steps=20", "--deterministic", f"--data_dir={TFDS_DIR}"]
  straight = run_cli("train.py", *flags, f"--model_dir={tmp_path / 'straight'}")
  assert straight.returncode == 0, straight.stderr[-2000:]

  path = tmp_path / "killed"
  process = subprocess.Popen([sys.executable, os.path.join(REPO, "train.py"), *flags, f"--model_dir={path}"],
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.monotonic() + 300
  state = path / "checkpoints" / "checkpoint"   # names ckpt-40 once that checkpoint is complete, not just begun
  while not (state.exists() and "ckpt-40" in state.read_text()) and time.monotonic() < deadline:
    time.sleep(0.05)
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert json.load(open(path / "metrics.json"))["status"] == "running"   # what a SIGKILL leaves behind
  resumed = run_cli("train.py", *flags, f"--model_dir={path}")
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  step = int(re.search(r"Resumed from \S+ckpt-(\d+)", resumed.stderr).group(1))
  assert step >= 40
  expected = json.load(open(tmp_path / "straight" / "metrics.json"))
  finished = json.load(open(path / "metrics.json"))
  assert finished["status"] == "completed" and finished["test"] == expected["test"]


def _trainer(**overrides):
  import models
  import tasks
  resolved = _toy(**overrides)
  task = tasks.create(resolved)
  model = models.build(resolved.model, resolved.topology, task.prepare("unused"))
  return Trainer(model, task, resolved, RunDir("unused")), task


def _graph_nodes(concrete_function):
  graph = concrete_function.graph.as_graph_def()
  yield from graph.node
  for function in graph.library.function:
    yield from function.node_def


def test_jit_compile_puts_the_training_step_under_xla_and_trains(tmp_path):
  for jit, compiled_calls in ((True, 1), (False, 0)):
    trainer, task = _trainer(jit_compile=jit)
    steps = trainer._train_steps.get_concrete_function(iter(task.dataset("train", 16)), tf.constant(1, tf.int64))
    must_compile = [n for n in _graph_nodes(steps) if "_XlaMustCompile" in n.attr and n.attr["_XlaMustCompile"].b]
    assert len(must_compile) == compiled_calls, jit
  metrics = run.train_and_export(_toy(jit_compile=True, epochs=1), str(tmp_path / "run"))
  assert metrics["status"] == "completed" and metrics["test"]["loss"] > 0


def test_mixed_precision_computes_in_float16_with_loss_scaling(tmp_path, monkeypatch):
  import keras
  # No GPU here: pretend one with tensor cores so the float16 path (policy, loss scaling, casts) runs on CPU.
  monkeypatch.setattr("tensorflow.config.list_physical_devices", lambda kind=None: ["fake-gpu"] if kind == "GPU" else [])
  monkeypatch.setattr("tensorflow.config.experimental.get_device_details", lambda device: {"compute_capability": (8, 0)})
  from engine import distribute
  try:
    distribute.set_precision(True)
    trainer, _ = _trainer(mixed_precision=True)
    recurrent = [layer for layer in trainer.model.layers if isinstance(layer, keras.layers.RNN)]
    assert recurrent and all(layer.compute_dtype == "float16" for layer in recurrent)
    assert all(v.dtype == "float32" for v in trainer.model.trainable_variables)
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    metrics = run.train_and_export(_toy(mixed_precision=True, epochs=1), str(tmp_path / "run"))
  finally:
    keras.mixed_precision.set_global_policy("float32")
  assert metrics["status"] == "completed" and np.isfinite(metrics["test"]["loss"])
