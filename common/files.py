"""File writes that a crash cannot half-finish (write a temp file beside the target, then rename), and reading a
user's data file with one clear error."""

import json
import os
import tempfile

from common.errors import UserError


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


def load_or_make_json(path, make):
  """The JSON in `path`; if there is none, make() written there first (a resumed run keeps what it started with)."""
  if os.path.exists(path):
    return read_json(path)
  value = make()
  write_text_atomic(path, json.dumps(value, ensure_ascii=False))
  return value


def read_data_file(path, newline=None):
  """The whole text of --data_file; a missing or non-UTF-8 file is a UserError naming it."""
  try:
    with open(path, encoding="utf-8", newline=newline) as f:
      return f.read()
  except FileNotFoundError:
    raise UserError(f"--data_file={path} does not exist.") from None
  except IsADirectoryError:
    raise UserError(f"--data_file={path} is a directory; pass a file.") from None
  except UnicodeDecodeError as e:
    raise UserError(f"--data_file={path} is not UTF-8 text (byte {e.start}: {e.reason}).") from None
