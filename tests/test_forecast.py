"""The forecast task: the protocol on a user's CSV, the forecaster's invariants, baselines, export, errors."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

import models
import tasks
from common import exports
from engine import config, run
from common.errors import UserError
from engine.loop import Trainer
from engine.run_dir import RunDir
from models.forecaster import WindowSpec
from models import IOSpec
from tasks.base import DataConfig
from tests.conftest import SHARED, run_cli

SMALL = {"input_length": 24, "horizon": 6, "segment_length": 8}


def write_csv(path, values, names=None, time_column="date"):
  values = np.asarray(values, np.float64).reshape(len(values), -1)
  names = names or [f"c{j}" for j in range(values.shape[1])]
  with open(path, "w", encoding="utf-8") as f:
    f.write(",".join([time_column, *names]) + "\n")
    for i, row in enumerate(values):
      f.write(",".join([f"t{i}", *(repr(float(v)) for v in row)]) + "\n")
  return str(path)


def sines(rows=400, seed=None):
  """Two noiseless periodic columns (periods 24 and 12), the second on another scale and level."""
  t = np.arange(rows)
  return np.stack([np.sin(2 * np.pi * t / 24), 5 + 2 * np.cos(2 * np.pi * t / 12)], axis=1)


def make_task(csv, model="gru", topology=None, overrides=None, **options):
  resolved = config.resolve("forecast", model, topology, overrides=overrides,
                            data=DataConfig(data_file=csv), options={**SMALL, **options})
  task = tasks.create(resolved)
  task.check_data()
  return resolved, task


def batches_of(task, split, batch_size=8):
  inputs, targets = zip(*[(x.numpy(), y.numpy()) for x, y in task.dataset(split, batch_size)])
  return np.concatenate(inputs), np.concatenate(targets)


def test_window_borders_and_counts_follow_the_protocol(tmp_path):
  """200 rows, 70/10/20: train rows 0-139, validation targets 140-159, test targets 160-199; stride 1, all counted."""
  csv = write_csv(tmp_path / "rows.csv", np.arange(200.0), names=["x"])
  _, task = make_task(csv)
  task.prepare(str(tmp_path))
  expected = {"train": (0, 140 - 24 - 6 + 1), "validation": (140 - 24, 15), "test": (160 - 24, 35)}
  for split, (first_row, count) in expected.items():
    inputs, targets = batches_of(task, split)
    rows = np.rint(task.scaler.inverse(inputs[..., 0:1])[..., 0]).astype(int)
    target_rows = np.rint(task.scaler.inverse(targets[..., 0:1])[..., 0]).astype(int)
    assert len(inputs) == count, split
    np.testing.assert_array_equal(rows[:, 0], first_row + np.arange(count))       # stride 1, in order
    np.testing.assert_array_equal(target_rows[:, 0], rows[:, -1] + 1)             # targets follow the window
    assert target_rows.min() >= {"train": 0, "validation": 140, "test": 160}[split]
  assert target_rows[-1, -1] == 199   # the last test window forecasts the last row


def test_the_scaler_never_sees_validation_or_test_rows(tmp_path):
  values = np.concatenate([np.linspace(0, 1, 140), np.full(60, 1e6)])
  _, task = make_task(write_csv(tmp_path / "jump.csv", values, names=["x"]))
  task.prepare(str(tmp_path))
  np.testing.assert_allclose(task.scaler.mean, [np.linspace(0, 1, 140).mean()], rtol=1e-6)
  np.testing.assert_allclose(task.scaler.scale, [np.linspace(0, 1, 140).std()], rtol=1e-5)


def test_modes_pick_the_columns_read_and_forecast(tmp_path):
  csv = write_csv(tmp_path / "three.csv", np.random.default_rng(0).normal(size=(200, 3)), names=["a", "b", "OT"])
  for mode, read, forecast in (("M", ["a", "b", "OT"], ["a", "b", "OT"]), ("S", ["OT"], ["OT"]),
                               ("MS", ["a", "b", "OT"], ["OT"])):
    _, task = make_task(csv, features=mode)
    assert task.columns() == (read, forecast)
    os.makedirs(tmp_path / mode)
    io = task.prepare(str(tmp_path / mode))
    inputs, targets = batches_of(task, "test")
    assert inputs.shape[1:] == (24, len(read)) and targets.shape[1:] == (6, len(forecast)) and io.output_size == len(forecast)


def _train(resolved, task, path):
  model = models.build(resolved.model, resolved.topology, task.prepare(path))
  trainer = Trainer(model, task, resolved, RunDir(path))
  trainer.fit()
  return model, trainer


def test_a_gru_learns_a_noiseless_sine_to_near_zero_error(tmp_path):
  csv = write_csv(tmp_path / "sine.csv", sines(600))
  resolved, task = make_task(csv, overrides={"units": 32, "dropout": 0.0, "learning_rate": 5e-3, "epochs": 15,
                                             "batch_size": 16})
  _, trainer = _train(resolved, task, str(tmp_path))
  assert trainer.evaluate("test")["mse"] < 0.01


CASES = [("rnn", "many_to_one"), ("lstm", "many_to_many"), ("gru", "seq2seq"), ("bilstm", "many_to_one"),
         ("stacked_gru", "many_to_many"), ("stacked_bilstm", "seq2seq"), ("gru_attention", "seq2seq"),
         ("bilstm_attention", "seq2seq"), ("naive", None), ("linear", None)]


@pytest.mark.parametrize("preset,topology", CASES)
def test_presets_train_on_every_forecast_topology(preset, topology, tmp_path):
  csv = write_csv(tmp_path / "sine.csv", sines(200))
  resolved, task = make_task(csv, preset, topology, overrides={"units": 8, "embedding_dim": 4, "epochs": 1,
                                                               "dropout": 0.1},
                             channel_independent=preset != "gru")
  model, trainer = _train(resolved, task, str(tmp_path))
  figures = trainer.evaluate("test")
  assert np.isfinite(figures["mse"]) and figures["mse"] == pytest.approx(figures["loss"], rel=1e-5)
  assert (int(trainer.loop.step) > 0) == (preset != "naive")


def test_multiplicative_attention_is_a_flag_away(tmp_path):
  resolved, _ = make_task(write_csv(tmp_path / "s.csv", sines(200)), "gru_attention", "seq2seq",
                          overrides={"attention": "multiplicative"})
  assert resolved.model.attention == "multiplicative"


def _forecaster(norm, channel_independent, kind="gru"):
  window = WindowSpec(16, 5, 3, (0, 1, 2), segment_length=4, norm=norm, channel_independent=channel_independent)
  spec = dataclasses.replace(models.get(kind), units=6)
  return models.build(spec, "many_to_one", IOSpec("features", 3, 3, input_name="window", window=window))


@pytest.mark.parametrize("norm", ["last", "revin", "revin_affine"])
def test_per_window_normalisation_moves_the_forecast_with_the_window(norm):
  model = _forecaster(norm, True)
  if norm == "revin_affine":   # a learned scale and shift that are not the identity: still undone exactly
    revin = model.get_layer("revin")
    revin.gamma.assign([0.5, 2.0, 1.5])
    revin.beta.assign([0.3, -1.0, 0.0])
  x = tf.random.stateless_normal([4, 16, 3], seed=[1, 2])
  np.testing.assert_allclose(model(x + 7.0), model(x) + 7.0, atol=1e-4)
  if norm.startswith("revin"):
    np.testing.assert_allclose(model(x * 3.0), model(x) * 3.0, atol=1e-4)


@pytest.mark.parametrize("options", [{"decoder": "pmf"}, {"decoder": "pmf", "embed_segments": True,
                                                            "channel_embedding": True},
                                     {"embed_segments": True, "window_norm": "revin_affine"}])
def test_segrnn_options_learn_a_sine(options, tmp_path):
  csv = write_csv(tmp_path / "sine.csv", sines(600))
  resolved, task = make_task(csv, overrides={"units": 32, "epochs": 15, "learning_rate": 5e-3, "dropout": 0.0,
                                             "batch_size": 16}, **options)
  metrics = run.train_and_export(resolved, str(tmp_path / "run"))
  assert metrics["status"] == "completed" and metrics["test"]["mse"] < 0.01, metrics["test"]


def test_segrnn_options_that_cannot_work_together_are_refused(tmp_path):
  csv = write_csv(tmp_path / "sine.csv", sines(300))
  with pytest.raises(UserError, match="--decoder=pmf steps the encoder's cells .* unidirectional"):
    make_task(csv, model="bigru", decoder="pmf")
  with pytest.raises(UserError, match="--decoder=pmf .* --topology=seq2seq"):
    make_task(csv, topology="seq2seq", decoder="pmf")
  with pytest.raises(UserError, match="--channel_embedding is read by the pmf decoder"):
    make_task(csv, channel_embedding=True)
  with pytest.raises(UserError, match="--embed_segments does not apply to --topology=many_to_many"):
    make_task(csv, topology="many_to_many", embed_segments=True)
  with pytest.raises(UserError, match="--weight_init=torch sets the layers of the pmf decoder's forecaster"):
    make_task(csv, weight_init="torch")


@pytest.mark.parametrize("weight_init", ["keras", "torch"])
def test_weight_init_torch_starts_every_weight_and_bias_as_pytorch_does(weight_init):
  window = WindowSpec(24, 12, 2, (0, 1), segment_length=6, decoder="pmf", embed_segments=True,
                      weight_init=weight_init)
  spec = dataclasses.replace(models.get("gru"), units=16)
  model = models.build(spec, "many_to_one", IOSpec("features", 2, 2, input_name="window", window=window))
  fan_in = {"segment_embedding": 6, "encoder_gru_0": 16, "head": 16}   # a recurrent layer's: its units
  for layer, fan in fan_in.items():
    for weight in model.get_layer(layer).weights:
      values = weight.numpy()
      if weight_init == "torch":   # uniform in +-1/sqrt(fan_in): inside the bound and spread over it
        assert np.abs(values).max() <= fan ** -0.5 and values.std() > 0.4 * fan ** -0.5, weight.path
      elif "bias" in weight.path:
        assert not values.any(), weight.path    # Keras starts biases at zero


def test_channel_independence_reads_each_channel_alone():
  model = _forecaster("none", True)
  x = tf.random.stateless_normal([2, 16, 3], seed=[3, 4])
  changed = tf.concat([x[..., :1], x[..., 1:] * 5 + 1], axis=-1)
  np.testing.assert_allclose(model(changed)[..., 0], model(x)[..., 0], atol=1e-6)
  assert not np.allclose(_forecaster("none", False)(changed)[..., 0], _forecaster("none", False)(x)[..., 0])


@pytest.mark.parametrize("topology", ["many_to_one", "many_to_many", "seq2seq"])
def test_windows_of_part_segments_and_horizons_longer_than_the_window(topology):
  """30 steps in 8-step segments (the first value repeated in front), 50 steps out: more segments out than in."""
  window = WindowSpec(30, 50, 2, (0, 1), segment_length=8)
  spec = dataclasses.replace(models.get("gru"), units=4, embedding_dim=3)
  model = models.build(spec, topology, IOSpec("features", 2, 2, input_name="window", window=window))
  assert model(tf.zeros([3, 30, 2])).shape == (3, 50, 2)


def test_the_naive_baseline_repeats_the_last_value():
  x = tf.random.stateless_normal([2, 16, 3], seed=[5, 6])
  np.testing.assert_allclose(_forecaster("none", False, "naive")(x), tf.repeat(x[:, -1:], 5, axis=1))


def test_the_linear_baseline_starts_as_the_window_mean():
  # DLinear's initialisation (weights 1/length on both maps, trend + rest = the window): before any training the
  # forecast is each channel's mean over the window, at every horizon step.
  x = tf.random.stateless_normal([2, 16, 3], seed=[7, 8])
  np.testing.assert_allclose(_forecaster("none", True, "linear")(x),
                             tf.repeat(tf.reduce_mean(x, axis=1, keepdims=True), 5, axis=1), atol=1e-5)


@pytest.mark.parametrize("loss, expected", [("mse", [2.5, 0.0]), ("mae", [1.5, 0.0])])
def test_the_training_loss_is_each_windows_mean_squared_or_absolute_error(tmp_path, loss, expected):
  _, task = make_task(write_csv(tmp_path / "s.csv", sines()), loss=loss)
  targets = tf.zeros([2, 2, 1])
  outputs = tf.constant([[[1.0], [-2.0]], [[0.0], [0.0]]])
  np.testing.assert_allclose(task.per_example_loss(targets, outputs), expected)


def test_export_serves_raw_windows_in_original_units(tmp_path):
  csv = write_csv(tmp_path / "sine.csv", sines(300))
  resolved, task = make_task(csv, overrides={"units": 8, "epochs": 2})
  path = str(tmp_path / "run")
  metrics = run.train_and_export(resolved, path)
  served, saved_config = exports.load(path)
  assert saved_config["options"]["input_length"] == 24
  raw = sines(300)[200:224][None].astype(np.float32)    # one window of raw values
  forecast = served(window=tf.constant(raw))["forecast"].numpy()
  model = models.build(resolved.model, resolved.topology, task.prepare(path))
  model.load_weights(os.path.join(path, "best.weights.h5"))
  expected = task.scaler.inverse(model(task.scaler.transform(raw).astype(np.float32)).numpy())
  np.testing.assert_allclose(forecast, expected, rtol=1e-4, atol=1e-4)
  assert forecast.shape == (1, 6, 2) and abs(forecast[..., 1].mean() - 5) < 2   # original units: level 5
  served_figures = task.evaluate_served(served, 7).metrics
  assert served_figures["mse"] == pytest.approx(metrics["test"]["mse"], rel=1e-4)
  assert served_figures["mae"] == pytest.approx(metrics["test"]["mae"], rel=1e-4)
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"window must be \[N, 24, 2\]"):
    served(window=tf.zeros([1, 20, 2]))
  with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or Inf"):
    served(window=tf.fill([1, 24, 2], np.nan))


def test_a_byte_order_mark_and_blank_lines_are_read_as_nothing(tmp_path):
  path = tmp_path / "excel.csv"
  path.write_text("\ufeffdate,a\n" + "".join(f"t{i},{i}\n\n" for i in range(300)), encoding="utf-8")
  _, task = make_task(str(path))
  values, names = task.series()
  assert names == ["a"] and values.shape == (300, 1) and values[-1, 0] == 299


@pytest.mark.parametrize("content,options,message", [
    ("date,a,b\nt0,1,2\nt1,1,x\n", {}, r"line 3, column 'b': 'x' is not a number"),
    ("date,a,b\nt0,1,\n", {}, r"line 2, column 'b': '' is not a number"),
    ("date,a,b\n\nt0,1,2\n\nt1,1,x\n", {}, r"line 5, column 'b': 'x' is not a number"),  # blank lines count
    ("when,a\nt0,1\n", {}, r"has no time column 'date' \(--time_column\); its columns are: when, a"),
    ("date,a,b\n" + "t,1,2\n" * 300, {"columns": "a,c"}, r"has no column 'c'; its columns are: date, a, b"),
    ("date,a,b\n" + "t,1,2\n" * 300, {"features": "S", "target": "OT"}, r"--target=OT names no column"),
    ("date,a\n" + "t,1\n" * 50, {}, r"50 rows, too few for one validation window of --input_length=24 \+ "
                                     r"--horizon=6 steps"),
    ("date,a\n" + "t,1\n" * 300, {"horizon": 0}, r"--horizon=0 is invalid; it must be >= 1"),
], ids=["not_a_number", "missing_value", "line_after_blank_lines", "no_time_column", "no_such_column",
        "no_such_target", "too_short", "bad_horizon"])
def test_a_bad_series_gets_one_clear_message(tmp_path, content, options, message):
  path = tmp_path / "bad.csv"
  path.write_text(content)
  with pytest.raises(UserError, match=message):
    make_task(str(path), **options)


def test_impossible_model_and_topology_pairs_are_refused():
  with pytest.raises(UserError, match="--model=naive is a baseline .* --topology=seq2seq does not apply"):
    config.resolve("forecast", "naive", "seq2seq")
  with pytest.raises(UserError, match="--model=linear is a forecasting baseline; --task=mnist needs a recurrent"):
    config.resolve("mnist", "linear", "one_to_many")
  with pytest.raises(UserError, match="--window_norm=mean is unknown; choose one of: last, revin, revin_affine, none"):
    config.resolve("forecast", "gru", options={"window_norm": "mean"})


@pytest.mark.skipif(not os.path.exists(os.path.join(SHARED, "datasets", "ett_small", "ETTh1.csv")),
                    reason="no ../shared/datasets/ett_small")
def test_etth1_windows_match_the_published_protocol(tmp_path):
  """ETTh1, 336 -> 96: 8,209 / 2,785 / 2,785 windows (Informer's loaders), 7 columns in and out."""
  resolved = config.resolve("forecast", "naive", data=DataConfig(
      data_dir=str(tmp_path), manual_dir=os.path.join(SHARED, "datasets", "ett_small")))
  task = tasks.create(resolved)
  task.check_data()
  task.prepare(str(tmp_path))
  counts = {split: sum(int(y.shape[0]) for _, y in task.dataset(split, 1024)) for split in ("train", "validation", "test")}
  assert counts == {"train": 8209, "validation": 2785, "test": 2785}


def test_train_and_evaluate_from_the_command_line(tmp_path):
  csv = write_csv(tmp_path / "sine.csv", sines(300))
  run_dir = str(tmp_path / "run")
  flags = ["--task=forecast", f"--data_file={csv}", "--input_length=24", "--horizon=6", "--segment_length=8"]
  trained = run_cli("train.py", "--model=linear", f"--model_dir={run_dir}", "--epochs=1", *flags)
  assert trained.returncode == 0, trained.stderr
  metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
  assert metrics["dataset"] == csv and set(metrics["test"]) == {"loss", "mse", "mae"}
  evaluated = run_cli("evaluate.py", f"--model_dir={run_dir}")
  assert evaluated.returncode == 0, evaluated.stderr
  assert json.loads(evaluated.stdout)["test"]["mse"] == pytest.approx(metrics["test"]["mse"], rel=1e-4)
  refused = run_cli("train.py", "--model=gru", f"--model_dir={tmp_path / 'other'}", *flags[:-1], "--target=nope",
                    "--features=S")
  assert refused.returncode == 2 and "--target=nope names no column" in refused.stderr
  assert not os.path.exists(tmp_path / "other")


def test_the_linear_baseline_reads_windows_unnormalised_unless_told():
  assert config.resolve("forecast", "linear").options["window_norm"] == "none"
  assert config.resolve("forecast", "gru").options["window_norm"] == "revin"
  assert config.resolve("forecast", "linear", options={"window_norm": "last"}).options["window_norm"] == "last"


@pytest.mark.parametrize("dataset, horizon, batch_size, learning_rate", [
    ("ett/h1", 96, 32, 5e-3), ("ett/h2", 720, 32, 5e-3), ("ett/m1", 336, 32, 5e-3), ("ett/m2", 192, 32, 1e-3),
    ("ett/m2", 336, 32, 1e-2)])
def test_the_linear_baseline_trains_with_the_series_own_dlinear_settings(dataset, horizon, batch_size, learning_rate):
  training = config.resolve("forecast", "linear", options={"dataset": dataset, "horizon": horizon}).training
  assert (training.batch_size, training.learning_rate, training.lr_decay) == (batch_size, learning_rate, 0.5)
  flagged = config.resolve("forecast", "linear", overrides={"learning_rate": 0.3},
                           options={"dataset": dataset, "horizon": horizon}).training
  assert flagged.learning_rate == 0.3   # a flag still wins


@pytest.mark.parametrize("dataset, batch_size, learning_rate, epochs, patience", [
    ("ett/h1", 64, 3e-4, 30, 5), ("ett/h2", 64, 3e-4, 30, 5), ("ett/m1", 256, 3e-4, 30, 5),
    ("ett/m2", 256, 3e-4, 30, 5)])
def test_recurrent_presets_train_on_segrnns_schedule_for_the_series(dataset, batch_size, learning_rate, epochs,
                                                                     patience):
  training = config.resolve("forecast", "gru", options={"dataset": dataset}).training
  assert (training.batch_size, training.learning_rate, training.epochs, training.patience) == (
      batch_size, learning_rate, epochs, patience)
  assert config.resolve("forecast", "gru", overrides={"batch_size": 32},
                        options={"dataset": dataset}).training.batch_size == 32   # a flag still wins


@pytest.mark.parametrize("dataset, model, input_length, segment_length", [
    ("ett/m1", "gru", 1440, 96), ("ett/m1", "lstm", 1440, 96), ("ett/m1", "linear", 336, 48),
    ("ett/m1", "naive", 336, 48), ("ett/m1", "segrnn", 720, 48), ("ett/m2", "gru", 1440, 96),
    ("ett/h1", "gru", 336, 24), ("ett/h2", "gru", 336, 48), ("ett/h1", "linear", 336, 48)])
def test_recurrent_presets_read_the_window_that_validated_best_on_the_series(dataset, model, input_length,
                                                                              segment_length):
  options = config.resolve("forecast", model, options={"dataset": dataset}).options
  assert (options["input_length"], options["segment_length"]) == (input_length, segment_length)
  flagged = config.resolve("forecast", model, options={"dataset": dataset, "input_length": 96})
  assert flagged.options["input_length"] == 96   # a flag still wins
  assert flagged.options["segment_length"] == segment_length   # and only over the option it names


@pytest.mark.parametrize("dataset, model, window_norm", [
    ("ett/h1", "gru", "revin"), ("ett/h2", "gru", "revin"), ("ett/h2", "lstm", "revin"), ("ett/h2", "segrnn", "last"),
    ("ett/h2", "linear", "none"), ("ett/m1", "gru", "last"), ("ett/m2", "gru", "last")])
def test_recurrent_presets_standardise_each_window_on_the_hourly_series(dataset, model, window_norm):
  assert config.resolve("forecast", model, options={"dataset": dataset}).options["window_norm"] == window_norm
  flagged = config.resolve("forecast", model, options={"dataset": dataset, "window_norm": "revin_affine"})
  assert flagged.options["window_norm"] == "revin_affine"   # a flag still wins


def test_a_users_series_takes_etth1s_settings_whatever_dataset_says():
  def resolve(model, dataset):
    return config.resolve("forecast", model, data=DataConfig(data_file="series.csv"), options={"dataset": dataset})
  for dataset in ("ett/m1", "ett/h2"):   # ETTh1's
    gru = resolve("gru", dataset)
    assert (gru.options["input_length"], gru.options["segment_length"], gru.options["window_norm"],
            gru.training.batch_size, gru.training.learning_rate, gru.training.epochs) == (
        336, 24, "revin", 64, 3e-4, 30)
  assert resolve("linear", "ett/m2").training.learning_rate == 5e-3              # ETTh1's DLinear script
  assert resolve("segrnn", "ett/m1").options["segment_length"] == 24             # ETTh1's SegRNN script


@pytest.mark.parametrize("dataset, segment_length, dropout, batch_size, channel_embedding", [
    ("ett/h1", 24, 0.1, 64, True), ("ett/h2", 24, 0.5, 64, False), ("ett/m1", 48, 0.5, 256, True),
    ("ett/m2", 48, 0.5, 256, False)])
def test_segrnn_trains_as_its_authors_script_for_the_series(dataset, segment_length, dropout, batch_size,
                                                             channel_embedding):
  resolved = config.resolve("forecast", "segrnn", options={"dataset": dataset})
  assert resolved.model.cell == "gru" and resolved.topology == "many_to_one"
  assert {k: resolved.options[k] for k in ("input_length", "segment_length", "decoder", "embed_segments",
                                           "channel_embedding")} == {
      "input_length": 720, "segment_length": segment_length, "decoder": "pmf", "embed_segments": True,
      "channel_embedding": channel_embedding}
  assert (resolved.model.units, resolved.model.dropout) == (512, dropout)
  training = resolved.training
  assert (training.batch_size, training.learning_rate, training.epochs, training.patience) == (batch_size, 3e-4, 30, 5)
  flagged = config.resolve("forecast", "segrnn", overrides={"dropout": 0.2},
                           options={"dataset": dataset, "segment_length": 12, "input_length": 96})
  assert (flagged.options["segment_length"], flagged.options["input_length"], flagged.model.dropout) == (12, 96, 0.2)
  assert config.RunConfig.from_json(json.loads(json.dumps(resolved.to_json()))).options == resolved.options


def test_segrnn_is_refused_outside_forecasting_and_off_its_decoder():
  with pytest.raises(UserError, match="--model=segrnn is made for --task=forecast .* use a general preset such as "
                                      "--model=gru"):
    config.resolve("sentiment", "segrnn")
  with pytest.raises(UserError, match="--decoder=pmf steps the encoder's cells .* --topology=seq2seq"):
    config.resolve("forecast", "segrnn", "seq2seq")


def test_word_settings_are_refused_for_forecasting():
  with pytest.raises(UserError, match="--head=crf is not an output --task=forecast can read"):
    config.resolve("forecast", "gru", overrides={"head": "crf"})
  with pytest.raises(UserError, match="--char_units=8 reads the characters of words"):
    config.resolve("forecast", "gru", overrides={"char_units": 8})
  with pytest.raises(UserError, match="--tie_embeddings scores outputs .* --task=forecast has no such decoder"):
    config.resolve("forecast", "gru", "seq2seq", overrides={"tie_embeddings": True})
