"""SavedModel export that serves raw inputs, and loading it back.

The task supplies the `serve` endpoint (raw inputs -> named outputs) with its preprocessing
inside; the run's config.json travels in the SavedModel's assets so a bare export is
self-describing (evaluate.py needs nothing else).
"""

import json
import os
import shutil

import keras
import tensorflow as tf

from engine.errors import UserError
from engine.files import write_json_atomic

CONFIG_ASSET = "rnnzoo_config.json"


def export(model, task, config, path):
  serve, signature, resources = task.serving_endpoint(model)
  archive = keras.export.ExportArchive()
  archive.track(model)
  for resource in resources:
    archive.track(resource)
  archive.add_endpoint("serve", serve, input_signature=signature)
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


def find(path):
  """The SavedModel directory for a run directory or an export directory."""
  for candidate in (os.path.join(path, "export"), path):
    if os.path.exists(os.path.join(candidate, "saved_model.pb")):
      return candidate
  raise UserError(f"{path} holds no SavedModel (looked for saved_model.pb in {path}/export and {path}); "
                  "pass a run directory whose training completed, or its export/ folder.")


def load(path):
  """(the `serve` endpoint, the run's config as a dict) of an export or a run directory."""
  saved_model = find(path)
  with open(os.path.join(saved_model, "assets", CONFIG_ASSET), encoding="utf-8") as f:
    config = json.load(f)
  loaded = tf.saved_model.load(saved_model)

  def serve(*args, **kwargs):  # holds `loaded`: its variables die with it
    return loaded.serve(*args, **kwargs)

  return serve, config
