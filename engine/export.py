"""SavedModel export that serves raw inputs (reading it back: common.exports.py).

The task supplies the `serve` endpoint (raw inputs -> named outputs) with its preprocessing
inside; the run's config.json travels in the SavedModel's assets so a bare export is
self-describing (evaluate.py needs nothing else).
"""

import os
import shutil

import keras
import tensorflow as tf

from common.files import write_json_atomic
from common.exports import CONFIG_ASSET


def export(model, task, config, path):
  serve, signature, resources = task.serving_endpoint(model)
  archive = keras.export.ExportArchive()
  archive.track(model)
  for resource in resources:
    archive.track(resource)
  _add_endpoint(archive, "serve", serve, signature)
  for name, (function, extra_signature) in task.extra_endpoints(model).items():
    _add_endpoint(archive, name, function, extra_signature)
  partial = f"{path}.partial"
  shutil.rmtree(partial, ignore_errors=True)
  archive.write_out(partial, verbose=False)
  os.makedirs(os.path.join(partial, "assets"), exist_ok=True)
  write_json_atomic(os.path.join(partial, "assets", CONFIG_ASSET), config.to_json())
  # Swap in the complete export only: a crash leaves the previous export or none, never half of one.
  previous = f"{path}.previous"
  if os.path.exists(path):
    shutil.rmtree(previous, ignore_errors=True)
    os.replace(path, previous)
  os.replace(partial, path)
  shutil.rmtree(previous, ignore_errors=True)


def _add_endpoint(archive, name, function, signature):
  """One signature (a list of TensorSpecs), or alternatives (a tuple of such lists): then every one is traced and
  callable from Python, and the first is the endpoint's signature (TF Serving's)."""
  if isinstance(signature, tuple):
    function = tf.function(function)
    for alternative in signature:
      function.get_concrete_function(*alternative)
    archive.add_endpoint(name, function)
  else:
    archive.add_endpoint(name, function, input_signature=signature)
