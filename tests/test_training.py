"""The run directory life cycle on the toy tasks: train, metrics.json, resume, corrupt checkpoints."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import models
import tasks
from common import exports
from engine import compare, config, export, run, run_dir
from common.errors import UserError
from engine.loop import Trainer
from tests.conftest import Killed, kill_at_step


def _toy_config(**overrides):
  return config.resolve("toy_classify", "lstm", overrides={"dropout": 0.2, **overrides})


def _checkpoint_tensors(run_dir):
  """Every saved tensor of the latest checkpoint except wall-clock timings."""
  reader = tf.train.load_checkpoint(os.path.join(run_dir, "checkpoints"))
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
          if "seconds" not in k and "save_counter" not in k and "OBJECT_GRAPH" not in k}


def test_run_writes_metrics_config_and_export(tmp_path):
  path = str(tmp_path / "run")
  metrics = run.train_and_export(_toy_config(), path)
  assert metrics["status"] == "completed" and metrics["error"] is None
  for key in ("task", "model", "topology", "num_params", "train_seconds", "train_examples_per_second"):
    assert metrics[key] is not None, key
  assert set(metrics["test"]) == {"loss", "accuracy"} and metrics["num_params"] > 0
  assert metrics["train_examples_per_second"] > 0 and len(metrics["history"]) == 2
  assert json.load(open(os.path.join(path, "config.json")))["model"]["name"] == "lstm"
  for item in ("checkpoints", "logs", "export/1/saved_model.pb", "best.weights.h5"):
    assert os.path.exists(os.path.join(path, item)), item


def test_the_toy_task_is_learned(tmp_path):
  metrics = run.train_and_export(_toy_config(epochs=15, dropout=0.0), str(tmp_path / "run"))
  assert metrics["test"]["accuracy"] >= 0.9


def test_the_learning_rate_holds_for_lr_hold_epochs_then_decays_every_epoch(tmp_path):
  metrics = run.train_and_export(_toy_config(epochs=5, patience=0, learning_rate=0.01, lr_decay=0.5,
                                             lr_hold_epochs=2), str(tmp_path / "run"))
  rates = [epoch["train"]["learning_rate"] for epoch in metrics["history"]]
  np.testing.assert_allclose(rates, [0.01, 0.01, 0.01, 0.005, 0.0025])


def test_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(tmp_path, monkeypatch):
  monkeypatch.setattr("engine.loop.CHECKPOINT_EVERY_SECONDS", -1)  # checkpoint after every step
  straight = str(tmp_path / "straight")
  expected = run.train_and_export(_toy_config(), straight)

  resumed = str(tmp_path / "resumed")
  revive = kill_at_step(monkeypatch, 11)  # step 11 is mid-way through epoch 2 (8 steps each)
  with pytest.raises(Killed):
    run.train_and_export(_toy_config(), resumed)
  assert json.load(open(os.path.join(resumed, "metrics.json")))["status"] == "failed"
  revive()
  finished = run.train_and_export(_toy_config(), resumed)

  assert finished["status"] == "completed"
  assert finished["test"] == expected["test"] and finished["validation"] == expected["validation"]
  a, b = _checkpoint_tensors(straight), _checkpoint_tensors(resumed)
  assert a.keys() == b.keys()
  for key in a:
    np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_ema_keeps_the_averaged_weights_while_training_goes_on_from_the_raw_ones(tmp_path, monkeypatch):
  seen, restore_best = {}, Trainer.restore_best

  def spy(self, fallback=None):
    seen["raw"] = [v.numpy() for v in self.model.trainable_variables]
    seen["average"] = [v.numpy() for v in self.optimizer._model_variables_moving_average]
    restore_best(self, fallback)
    seen["kept"] = [v.numpy() for v in self.model.trainable_variables]

  monkeypatch.setattr(Trainer, "restore_best", spy)
  run.train_and_export(_toy_config(epochs=1, ema_momentum=0.9), str(tmp_path / "run"))  # one epoch: the best
  for kept, average in zip(seen["kept"], seen["average"]):
    np.testing.assert_allclose(kept, average, rtol=1e-6)
  assert not all(np.allclose(raw, average) for raw, average in zip(seen["raw"], seen["average"]))


def test_completed_run_is_not_trained_again(tmp_path):
  path = str(tmp_path / "run")
  first = run.train_and_export(_toy_config(), path)
  assert run.train_and_export(_toy_config(), path) == first


def test_more_epochs_continue_a_completed_run(tmp_path):
  path = str(tmp_path / "run")
  run.train_and_export(_toy_config(epochs=1), path)
  longer = run.train_and_export(_toy_config(epochs=3), path)
  assert longer["epochs_trained"] == 3 and [h["epoch"] for h in longer["history"]] == [1, 2, 3]
  assert json.load(open(os.path.join(path, "config.json")))["training"]["epochs"] == 3


def test_grid_paths_keep_datasets_and_topologies_apart():
  assert run_dir.grid_path("runs", "mnist", "lstm") == os.path.join("runs", "mnist", "lstm")
  assert run_dir.grid_path("runs", "forecast", "gru", dataset="ett/h2") == os.path.join("runs", "forecast-ett-h2", "gru")
  assert run_dir.grid_path("r", "mnist", "lstm", topology="one_to_many") == os.path.join("r", "mnist", "lstm-one_to_many")


def test_reusing_a_run_dir_with_other_settings_names_them(tmp_path):
  path = str(tmp_path / "run")
  run.train_and_export(_toy_config(), path)
  with pytest.raises(UserError, match=r"holds a run with other settings \(model.units: 8 -> 9\)"):
    run.check(_toy_config(units=9), path)
  run.check(_toy_config(epochs=5), path)  # more epochs continue the same run


def _checkpointed_but_unfinished(path, monkeypatch, epochs):
  """Trains `epochs` epochs, then dies before the export: the run is incomplete but checkpointed."""
  monkeypatch.setattr("engine.export.export", lambda *args: (_ for _ in ()).throw(Killed()))
  with pytest.raises(Killed):
    run.train_and_export(_toy_config(epochs=epochs), path)
  monkeypatch.undo()
  state = tf.train.get_checkpoint_state(os.path.join(path, "checkpoints"))
  return list(state.all_model_checkpoint_paths)  # oldest first


def _damage(checkpoint_prefix):
  directory, name = os.path.split(checkpoint_prefix)
  for f in os.listdir(directory):
    if f.startswith(name + ".data-"):
      with open(os.path.join(directory, f), "wb") as out:
        out.write(b"not a checkpoint")


def test_a_corrupt_latest_checkpoint_falls_back_to_the_one_before(tmp_path, monkeypatch):
  path = str(tmp_path / "run")
  older, newest = _checkpointed_but_unfinished(path, monkeypatch, epochs=2)[-2:]
  _damage(newest)
  metrics = run.train_and_export(_toy_config(epochs=2), path)
  assert metrics["status"] == "completed"
  assert [h["epoch"] for h in metrics["history"]] == [1, 2]  # the lost epoch was trained again, not duplicated


def test_unreadable_checkpoints_are_reported_with_their_files(tmp_path, monkeypatch):
  path = str(tmp_path / "run")
  for prefix in _checkpointed_but_unfinished(path, monkeypatch, epochs=1):
    _damage(prefix)
  with pytest.raises(UserError, match=r"no checkpoint of this run can be read .*checkpoints/ckpt-\d+: "):
    run.train_and_export(_toy_config(epochs=1), path)
  assert os.path.exists(os.path.join(path, "config.json"))  # the user's run is not deleted
  metrics = json.load(open(os.path.join(path, "metrics.json")))
  assert metrics["status"] == "failed" and "no checkpoint" in metrics["error"]


def test_export_serves_the_same_predictions_as_the_trained_model(tmp_path):
  path = str(tmp_path / "run")
  run.train_and_export(_toy_config(), path)
  serve, saved_config = exports.load(path)
  assert saved_config["task"] == "toy_classify"
  resolved = config.RunConfig.from_json(saved_config)
  toy = tasks.get("toy_classify")(resolved.data)
  model = models.build(resolved.model, resolved.topology, toy.prepare(path))
  model.load_weights(os.path.join(path, "best.weights.h5"))
  ids = tf.constant([[7, 3, 0], [2, 0, 0]], tf.int32)
  np.testing.assert_allclose(serve(ids)["probabilities"], tf.nn.softmax(model(ids)), atol=1e-6)
