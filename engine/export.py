"""SavedModel export that serves raw inputs, and loading it back.

The task supplies the `serve` endpoint (raw inputs -> named outputs) with its preprocessing
inside; the run's config.json travels in the SavedModel's assets so a bare export is
self-describing (evaluate.py needs nothing else).
"""

import json
import os
import re
import shutil

import keras
import tensorflow as tf

from common.errors import UserError, first_line
from common.files import write_json_atomic

CONFIG_ASSET = "rnnzoo_config.json"


def export(model, task, config, path):
  serve, signature, resources = task.serving_endpoint(model)
  archive = keras.export.ExportArchive()
  archive.track(model)
  for resource in resources:
    archive.track(resource)
  archive.add_endpoint("serve", serve, input_signature=signature)
  for name, (function, extra_signature) in task.extra_endpoints(model).items():
    archive.add_endpoint(name, function, input_signature=extra_signature)
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


class Served:
  """A loaded export: calling it calls `serve`; other endpoints are attributes (served.score(...)).

  It holds the loaded object, whose variables die with it.
  """

  def __init__(self, loaded):
    self._loaded = loaded

  def __call__(self, *args, **kwargs):
    return self._loaded.serve(*args, **kwargs)

  def __getattr__(self, name):
    return getattr(self._loaded, name)


def input_error(error):
  """The message of an export's own input check (tf.debugging.assert_*) in an InvalidArgumentError."""
  found = re.search(r"assertion failed: \[(.*?)\]", error.message, re.S)
  return found.group(1).strip().rstrip(".") if found else error.message.strip().splitlines()[-1]


def load(path):
  """(Served, the run's config as a dict) of an export or a run directory."""
  saved_model = find(path)
  config_path = os.path.join(saved_model, "assets", CONFIG_ASSET)
  try:
    with open(config_path, encoding="utf-8") as f:
      config = json.load(f)
  except (OSError, ValueError) as e:
    raise UserError(f"{saved_model} is not a readable RNN Zoo export: {config_path} ({e}). Pass an export "
                    "written by train.py, or retrain the run to export it again.") from None
  try:
    loaded = tf.saved_model.load(saved_model)
  except (tf.errors.OpError, ValueError, OSError) as e:
    raise UserError(f"{saved_model} cannot be loaded as a SavedModel ({first_line(e)}). Retrain the run to export it "
                    "again (its checkpoints are kept).") from None
  return Served(loaded), config
