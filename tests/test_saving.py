"""Keras conventions: every model the zoo builds saves as .keras and loads back to identical outputs (the test
keras-hub runs on its models, `run_model_saving_test`)."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from models import IOSpec
from models.forecaster import WindowSpec

TOKENS = IOSpec("tokens", 20, 3, input_name="token_ids")
SEQ2SEQ = IOSpec("tokens", 20, 15, input_name="source_ids", decoder_vocab=15)
DRAWING = IOSpec("features", 5, 5, input_name="previous_rows", sequence_length=4, condition_classes=3)
WORDS = IOSpec("tokens", 20, 4, input_name="word_ids", char_vocab=9)
WINDOWS = IOSpec("features", 2, 2, input_name="window", sequence_length=12, input_dropout=False,
                 window=WindowSpec(12, 6, 2, (0, 1), segment_length=4))

CASES = [
    ("bilstm", "many_to_one", TOKENS, {"pooling": "max_mean", "embedding_dropout": "word_type"}),
    ("gru", "many_to_one", TOKENS, {"pooling": "attention"}),
    ("stacked_lstm", "many_to_many", TOKENS, {}),
    ("bilstm", "many_to_many", WORDS, {"char_units": 3, "head": "crf"}),
    ("lstm", "one_to_many", DRAWING, {}),
    ("bigru_attention", "seq2seq", SEQ2SEQ, {"embedding_dropout": "channel"}),
    ("lstm", "seq2seq", SEQ2SEQ, {"attention": "multiplicative"}),
    ("bigru_attention", "seq2seq", SEQ2SEQ, {"tie_embeddings": True}),
    ("gru", "many_to_one", WINDOWS, {}),
    ("gru", "many_to_many", WINDOWS, {}),
    ("gru", "seq2seq", WINDOWS, {}),
    ("linear", "many_to_one", WINDOWS, {}),
    ("stacked_gru", "many_to_one", IOSpec("features", 2, 2, input_name="window", sequence_length=12,
                                          input_dropout=False,
                                          window=WindowSpec(12, 6, 2, (0, 1), segment_length=4, norm="revin_affine",
                                                            decoder="pmf", embed_segments=True,
                                                            channel_embedding=True)), {}),
]


def _inputs(io, topology):
  rng = np.random.default_rng(0)
  if topology == "seq2seq" and io.window is None:
    return {"source_ids": np.array([[4, 5, 6, 0], [7, 8, 0, 0]], np.int32),
            "decoder_inputs": np.array([[2, 5, 6], [2, 9, 0]], np.int32)}
  if topology == "one_to_many":
    return {"label": np.array([0, 2], np.int32), "previous_rows": rng.random((2, 4, 5), np.float32)}
  if io.window is not None:
    return rng.normal(size=(2, 12, 2)).astype(np.float32)
  if io.char_vocab:
    return {"word_ids": np.array([[4, 9, 0]], np.int32), "char_ids": np.array([[[2, 5, 3], [2, 7, 3], [2, 3, 0]]])}
  return np.array([[4, 9, 2, 0], [7, 0, 0, 0]], np.int32)


@pytest.mark.parametrize("preset,topology,io,fields", CASES, ids=[f"{c[0]}-{c[1]}-{c[2].input_name}" for c in CASES])
def test_a_trained_model_saves_as_keras_and_reloads_identically(preset, topology, io, fields, tmp_path):
  spec = dataclasses.replace(models.get(preset), units=6, embedding_dim=5, dropout=0.1, **fields)
  model = models.build(spec, topology, io)
  inputs = _inputs(io, topology)
  optimizer = keras.optimizers.Adam(0.05)
  with tf.GradientTape() as tape:   # one step of training, so the weights are not their initial values
    outputs = model(inputs, training=True)
    loss = tf.add_n([tf.reduce_mean(tf.square(tf.cast(t, tf.float32))) for t in tf.nest.flatten(outputs)])
  optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
  path = str(tmp_path / "model.keras")
  model.save(path)
  reloaded = keras.saving.load_model(path)
  for after, before in zip(tf.nest.flatten(reloaded(inputs, training=False)), tf.nest.flatten(model(inputs))):
    np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("module", ["models", "models.topologies.many_to_one", "models.topologies.many_to_many",
                                    "models.topologies.one_to_many", "models.topologies.seq2seq", "models.forecaster"])
def test_the_builders_docstring_examples_run(module):
  import doctest
  import importlib
  failures, tried = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
  assert tried > 0 and failures == 0
