"""SavedModel export that serves raw inputs (reading it back: common/exports.py).

The task supplies the `serve` endpoint (raw inputs -> named outputs) with its preprocessing
inside; the run's config.json travels in the SavedModel's assets so a bare export is
self-describing (evaluate.py needs nothing else).
"""

import os
import shutil

import keras
import tensorflow as tf

from common import exports
from common.exports import CONFIG_ASSET
from common.files import write_json_atomic
from common.progress import Progress
from models.recurrent import portable_kernels


def export(model, task, config, path):
  """Writes the run's SavedModel as the next version under `path` (TF Serving's layout), its endpoints traced with
  standard TF ops only (no custom op, no cuDNN op: models/recurrent.portable_kernels), so it serves on any host."""
  with portable_kernels():
    _write(model, task, config, path)


def _write(model, task, config, path):
  serve, signature, resources = task.serving_endpoint(model)
  endpoints = {"serve": (serve, signature), **task.extra_endpoints(model)}
  progress = Progress(f"Exporting {path}", len(endpoints) + 1, unit="steps")   # tracing each, then writing
  archive = keras.export.ExportArchive()
  archive.track(model)
  for resource in resources:
    if isinstance(resource, keras.layers.Layer) and not resource.built:
      # A lookup layer is built by its first call; an export made again from a run's weights has not called it yet.
      resource.build(None)
    archive.track(resource)
  for name, (function, endpoint_signature) in endpoints.items():
    _add_endpoint(archive, name, function, endpoint_signature)
    progress.update(1)
  partial = f"{path}.partial"
  shutil.rmtree(partial, ignore_errors=True)
  archive.write_out(partial, verbose=False)
  progress.update(1)
  progress.close()
  os.makedirs(os.path.join(partial, "assets"), exist_ok=True)
  write_json_atomic(os.path.join(partial, "assets", CONFIG_ASSET), config.to_json())
  # TF Serving's layout: numbered versions under the model's base path; it serves the highest. The complete
  # export is renamed into place, so a crash leaves the previous version or none, never half of one.
  versions = exports.versions(path)
  os.makedirs(path, exist_ok=True)
  os.replace(partial, os.path.join(path, str(max(versions, default=0) + 1)))
  for version in versions:
    shutil.rmtree(os.path.join(path, str(version)), ignore_errors=True)
  for name in ("saved_model.pb", "fingerprint.pb", "variables", "assets"):   # an export of the old, flat layout
    old = os.path.join(path, name)
    if os.path.isdir(old):
      shutil.rmtree(old)
    elif os.path.exists(old):
      os.remove(old)


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
