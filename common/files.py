"""File writes that a crash cannot half-finish (write a temp file beside the target, then rename), and reading a
user's data file with one clear error."""

import codecs
import json
import os
import tempfile

from common.errors import UserError


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


def write_text_atomic(path, text):
  """A kill leaves the old file or the new one, never half of one. The file gets the usual mode (0644 under the
  common umask), not mkstemp's private 0600: others on a shared machine read a run's results."""
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
  try:
    with os.fdopen(fd, "w", encoding="utf-8") as f:
      f.write(text)
    os.chmod(tmp, 0o666 & ~_umask())
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


def read_data_file(path, newline=None, encoding="utf-8"):
  """The whole text of --data_file; a missing file, or one that is not text in `encoding`, is a UserError naming
  it, and for a bad byte its line and column and how to fix it."""
  try:
    codecs.lookup(encoding)
  except LookupError:
    raise UserError(f"--encoding={encoding} is not a text encoding Python knows (e.g. utf-8, latin-1, cp1252).") from None
  try:
    with open(path, "rb") as f:
      data = f.read()
  except FileNotFoundError:
    raise UserError(f"--data_file={path} does not exist.") from None
  except IsADirectoryError:
    raise UserError(f"--data_file={path} is a directory; pass a file.") from None
  try:
    text = data.decode(encoding)
  except UnicodeDecodeError as e:
    line = data.count(b"\n", 0, e.start) + 1
    column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
    raise UserError(f"--data_file={path} is not {encoding} text: line {line}, column {column} holds byte "
                    f"0x{data[e.start]:02x} ({e.reason}). Pass its encoding (e.g. --encoding=latin-1 for a Western "
                    "European export), or save it as UTF-8.") from None
  if newline is None:   # universal newlines, as open() in text mode reads them
    text = text.replace("\r\n", "\n").replace("\r", "\n")
  return text
