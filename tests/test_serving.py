"""Exports serve raw inputs, and a fresh process reloading them predicts what the trained model does.

The data here is tfds mock data (random text and images): these tests check plumbing, not accuracy.
"""

import json
import os
import sys

import numpy as np
import pytest
import tensorflow as tf

import models
import tasks
from common import exports
from engine import config, run
from tests.conftest import REPO

RELOAD = """
import json, sys
import numpy as np, tensorflow as tf
sys.path.insert(0, {repo!r})
from common import exports
serve, _ = exports.load({path!r})
inputs = json.loads(sys.stdin.read())
outputs = serve(tf.constant(np.array(inputs["values"], dtype=inputs["dtype"])))
print(json.dumps({{k: [x.decode() if isinstance(x, bytes) else x for x in v.numpy().tolist()]
                  for k, v in outputs.items()}}))
"""

LONG_REVIEW = "a surprisingly long review " * 4000   # 108k characters


def _train_tiny(task, path):
  resolved = config.resolve(task, "bigru", overrides={
      "units": 4, "embedding_dim": 4, "epochs": 1, "batch_size": 16, "pooling": "attention"})
  run.train_and_export(resolved, path)
  task_object = tasks.get(task)(resolved.data)
  model = models.build(resolved.model, resolved.topology, task_object.prepare(path))
  model.load_weights(os.path.join(path, "best.weights.h5"))
  return task_object.serving_endpoint(model)[0]


def _served_in_fresh_process(path, values, dtype):
  import subprocess
  result = subprocess.run([sys.executable, "-c", RELOAD.format(repo=REPO, path=path)],
                          input=json.dumps({"values": values, "dtype": dtype}), capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads(result.stdout.strip().splitlines()[-1])


def test_sentiment_export_serves_raw_strings(mock_tfds, tmp_path):
  path = str(tmp_path / "run")
  in_process = _train_tiny("sentiment", path)
  texts = ["A wonderful, moving film.<br /><br />Loved it!", "", LONG_REVIEW, "ünïcödé ☃ only"]
  served = _served_in_fresh_process(path, texts, "object")
  expected = in_process(tf.constant(texts))
  np.testing.assert_allclose(served["positive_probability"], expected["positive_probability"], atol=1e-6)
  np.testing.assert_allclose(served["probabilities"], expected["probabilities"], atol=1e-6)
  assert set(served["label"]) <= {"negative", "positive"}


def test_sentiment_export_survives_a_batch_of_empty_strings(mock_tfds, tmp_path):
  path = str(tmp_path / "run")
  _train_tiny("sentiment", path)
  served = _served_in_fresh_process(path, ["", "", ""], "object")
  assert len(served["positive_probability"]) == 3
  assert all(0.0 <= p <= 1.0 for p in served["positive_probability"])
  serve, _ = exports.load(path)
  invalid_utf8 = serve(tf.constant([b"\xff\xfe a great film \xc3", b"\x80"]))["positive_probability"].numpy()
  assert invalid_utf8.shape == (2,) and np.all((invalid_utf8 >= 0) & (invalid_utf8 <= 1))


def test_mnist_export_serves_uint8_images(mock_tfds, tmp_path):
  path = str(tmp_path / "run")
  in_process = _train_tiny("mnist", path)
  images = np.random.default_rng(0).integers(0, 256, (3, 28, 28)).astype(np.uint8)
  served = _served_in_fresh_process(path, images.tolist(), "uint8")
  expected = in_process(tf.constant(images))
  np.testing.assert_allclose(served["probabilities"], expected["probabilities"], atol=1e-6)
  assert np.allclose(np.sum(served["probabilities"], axis=1), 1.0, atol=1e-5)
  assert served["label"] == [str(d) for d in np.argmax(expected["probabilities"], axis=1)]

  serve, _ = exports.load(path)
  as_float = serve(images.astype(np.float32))["probabilities"].numpy()   # float pixel values 0..255 read the same
  np.testing.assert_allclose(as_float, expected["probabilities"], atol=1e-6)
  scaled = images.astype(np.float32) / 255.0    # how most people prepare MNIST: refused, never cast to zeros
  for bad, message in ((scaled, "images look scaled to \\[0, 1\\]"), (scaled * 300, "values above 255"),
                       (np.full((1, 28, 28), np.nan, np.float32), "NaN or Inf"),
                       (-scaled, "values below 0")):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
      serve(bad)
  with pytest.raises((TypeError, ValueError)):
    serve(images.astype(np.float64))                # neither uint8 nor float32: no signature takes it
  with pytest.raises((TypeError, ValueError)):
    serve(tf.constant(images[:, :27]))              # 27 rows instead of 28
