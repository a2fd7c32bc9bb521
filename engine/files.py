"""File writes that a crash cannot half-finish: write a temp file beside the target, then rename."""

import json
import os
import tempfile


def write_text_atomic(path, text):
  """A kill leaves the old file or the new one, never half of one."""
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
  try:
    with os.fdopen(fd, "w", encoding="utf-8") as f:
      f.write(text)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def write_json_atomic(path, obj):
  write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path):
  with open(path, encoding="utf-8") as f:
    return json.load(f)
