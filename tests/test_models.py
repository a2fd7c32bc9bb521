import dataclasses

import numpy as np
import pytest
import tensorflow as tf

import models
import tasks
from engine import config
from common.errors import UserError
from engine.loop import Trainer
from engine.run_dir import RunDir
from models.pooling import AttentionPooling, MaskedPooling
from models import IOSpec


def _mask(lengths, steps):
  return tf.sequence_mask(lengths, steps)


def test_masked_max_and_mean_ignore_padding():
  x = tf.constant([[[1.0], [5.0], [100.0]], [[-3.0], [-1.0], [100.0]]])
  mask = _mask([2, 1], 3)
  np.testing.assert_allclose(MaskedPooling("max")(x, mask=mask), [[5.0], [-3.0]])
  np.testing.assert_allclose(MaskedPooling("mean")(x, mask=mask), [[3.0], [-3.0]])
  np.testing.assert_allclose(MaskedPooling("max_mean")(x, mask=mask), [[5.0, 3.0], [-3.0, -3.0]])


def test_fully_masked_sequence_pools_to_zeros():
  x = tf.ones([1, 3, 2])
  for layer in (MaskedPooling("max_mean"), AttentionPooling(2)):
    np.testing.assert_allclose(layer(x, mask=_mask([0], 3)), np.zeros_like(layer(x)))


def test_attention_pooling_ignores_padded_values():
  layer = AttentionPooling(4)
  x = tf.random.normal([2, 5, 4], seed=1)
  noisy = tf.concat([x[:, :3], tf.random.normal([2, 2, 4], seed=2) * 50], axis=1)
  mask = _mask([3, 3], 5)
  np.testing.assert_allclose(layer(x, mask=mask), layer(noisy, mask=mask), rtol=1e-5)


@pytest.mark.parametrize("preset", ["bilstm", "stacked_gru", "birnn"])
@pytest.mark.parametrize("pooling", ["last", "max_mean", "attention"])
def test_outputs_do_not_depend_on_right_padding(preset, pooling):
  """The mask reaches every layer: extra padding never changes a prediction."""
  spec = dataclasses.replace(models.get(preset), units=6, embedding_dim=5, pooling=pooling)
  model = models.build(spec, "many_to_one", IOSpec("tokens", 20, 3))
  ids = np.array([[4, 9, 2, 0], [7, 0, 0, 0]], np.int32)
  padded = np.pad(ids, [[0, 0], [0, 5]])
  np.testing.assert_allclose(model(ids), model(padded), atol=1e-6)


ENCODERS = [n for n in models.names()
            if models.get(n).recurrent and models.get(n).attention == "none" and not models.get(n).made_for]


@pytest.mark.parametrize("preset", ENCODERS)
@pytest.mark.parametrize("task,topology", [("toy_classify", "many_to_one"), ("toy_tagging", "many_to_many")])
def test_every_preset_builds_and_trains_on_each_topology(preset, task, topology, tmp_path):
  resolved = config.resolve(task, preset, topology, overrides={"epochs": 1, "dropout": 0.1})
  toy = tasks.get(task)(resolved.data)
  model = models.build(resolved.model, topology, toy.prepare(str(tmp_path)))
  before = [w.copy() for w in model.get_weights()]
  trainer = Trainer(model, toy, resolved, RunDir(str(tmp_path)))
  trainer.fit()
  assert int(trainer.loop.step) > 0
  assert all(np.isfinite(w).all() for w in model.get_weights())
  assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("kind", ["word", "channel"])
def test_embedding_dropout_drops_whole_words_or_whole_channels(kind):
  spec = dataclasses.replace(models.get("lstm"), units=4, embedding_dim=16, dropout=0.5, embedding_dropout=kind)
  model = models.build(spec, "many_to_one", IOSpec("tokens", 10, 2))
  layer = model.get_layer(f"{kind}_dropout")
  dropped = layer(tf.ones([2, 50, 16]), training=True).numpy() == 0
  # A dropped word is zero in every channel; a dropped channel is zero at every step.
  axis = 2 if kind == "word" else 1
  assert np.array_equal(dropped.all(axis=axis, keepdims=True), dropped.any(axis=axis, keepdims=True))
  assert 0 < dropped.mean() < 1


def test_word_type_dropout_drops_every_occurrence_of_a_word_and_keeps_the_mask():
  spec = dataclasses.replace(models.get("bilstm"), units=4, embedding_dim=8, dropout=0.5, embedding_dropout="word_type",
                             pooling="max_mean")
  model = models.build(spec, "many_to_one", IOSpec("tokens", 6, 2))
  layer = model.get_layer("word_type_dropout")
  ids = tf.constant(np.random.default_rng(0).integers(1, 6, size=[64, 30]), tf.int32)
  dropped = (layer(tf.ones([64, 30, 8]), ids, training=True).numpy() == 0).all(axis=-1)
  for row_ids, row_dropped in zip(ids.numpy(), dropped):
    for word in np.unique(row_ids):  # a word is dropped everywhere in its sequence or nowhere
      assert len(set(row_dropped[row_ids == word])) == 1
  assert 0.3 < dropped.mean() < 0.7
  padded = tf.constant([[1, 2, 0, 0], [3, 0, 0, 0]])   # padding still masks the steps after the dropout
  assert np.allclose(model(padded), model(tf.constant([[1, 2], [3, 0]])), atol=1e-6)


def test_an_unknown_embedding_dropout_is_refused():
  with pytest.raises(UserError, match="--embedding_dropout=tokens is unknown; choose one of: word, word_type, channel"):
    config.resolve("sentiment", "bilstm", overrides={"embedding_dropout": "tokens"})


@pytest.mark.parametrize("preset", [name for name in ENCODERS if not models.get(name).bidirectional])
def test_stepping_the_cells_reproduces_the_one_to_many_model(preset):
  """Generation steps the cells one row at a time; fed the same rows, it must compute what the model does."""
  from models.topologies.one_to_many import Generator
  spec = dataclasses.replace(models.get(preset), units=8, embedding_dim=3, dropout=0.3)
  io = IOSpec("features", 5, 5, input_name="previous_rows", sequence_length=4, condition_classes=3)
  model = models.build(spec, "one_to_many", io)
  labels = tf.constant([0, 2])
  rows = tf.random.stateless_uniform([2, 4, 5], seed=[1, 2])
  expected = model({"label": labels, "previous_rows": rows}, training=False)
  generator = Generator(model)
  (condition, states), outputs = generator.start(labels), []
  for t in range(4):
    logits, states = generator.step(rows[:, t], states, condition)
    outputs.append(logits)
  np.testing.assert_allclose(tf.stack(outputs, axis=1), expected, atol=1e-5)
