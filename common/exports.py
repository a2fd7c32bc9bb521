"""Reading an export back: the SavedModel of a run, its endpoints, and the run's config in its assets.

Used by evaluate.py and by tasks whose evaluation reads another run's export (mnist drawing reads the
digits it draws with a classifier run). Writing exports is the engine's (engine/export.py).
"""

import json
import os
import re

import tensorflow as tf

from common.errors import UserError, first_line

CONFIG_ASSET = "rnnzoo_config.json"


def versions(base):
  """The numbered versions of an export's base path (TF Serving's layout: <base>/<version>/saved_model.pb)."""
  if not os.path.isdir(base):
    return []
  return sorted(int(name) for name in os.listdir(base)
                if name.isdigit() and os.path.exists(os.path.join(base, name, "saved_model.pb")))


def find(path):
  """The SavedModel directory for a run directory, an export base path, or a SavedModel itself (its newest
  version; the flat layout of older exports too)."""
  for base in (os.path.join(path, "export"), path):
    numbered = versions(base)
    if numbered:
      return os.path.join(base, str(numbered[-1]))
    if os.path.exists(os.path.join(base, "saved_model.pb")):
      return base
  raise UserError(f"{path} holds no SavedModel (looked for saved_model.pb in {path}/export/<version>, {path}/export "
                  f"and {path}); pass a run directory whose training completed, or its export folder.")


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
  except Exception as e:   # damage shows as OpError, DecodeError, IndexError, ValueError...
    raise UserError(f"{saved_model} is damaged: {_damaged_part(saved_model)} cannot be read ({first_line(e)}). Run the "
                    "train.py command of the run again: a completed run is exported again from its best weights "
                    "(its checkpoints are kept).") from None
  return Served(loaded), config


def _damaged_part(saved_model):
  """Which part of an export does not read: its graph (saved_model.pb) or its variables."""
  from tensorflow.core.protobuf import saved_model_pb2
  try:
    with open(os.path.join(saved_model, "saved_model.pb"), "rb") as f:
      saved_model_pb2.SavedModel().ParseFromString(f.read())
  except Exception:
    return "saved_model.pb"
  return "variables/"
