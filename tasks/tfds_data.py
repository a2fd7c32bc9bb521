"""Reading tfds datasets, with a fast, clear failure when the data is not there.

Offline, `tfds.load` of unprepared data retries the network for minutes before failing; instead
we check `is_prepared()` and the manual files first and name the flags that fix it.

tensorflow_datasets and the project's own builders (tasks/builders) are imported here, when data is
first read, not when `tasks` is imported: a command that reads no data (--help) does not pay for them.
"""

import importlib
import os
import re
import socket

from common.errors import UserError
from tasks import builders


def _online(host="storage.googleapis.com", timeout=3.0):
  try:
    socket.create_connection((host, 443), timeout=timeout).close()
    return True
  except OSError:
    return False


def ensure_prepared(name, data, manual_files=()):
  """Returns a prepared tfds builder for `name`, building it from --manual_dir or online if need be."""
  import tensorflow_datasets as tfds
  from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

  if name.split("/")[0] in builders.MODULES:
    importlib.import_module(builders.MODULES[name.split("/")[0]])   # registers the project's builder with tfds
  builder = tfds.builder(name, data_dir=data.data_dir)
  if builder.is_prepared():
    return builder
  where = f"--data_dir={data.data_dir}" if data.data_dir else "the default tfds data_dir (~/tensorflow_datasets)"
  if data.manual_dir:
    missing = [f for f in manual_files if not os.path.exists(os.path.join(data.manual_dir, f))]
    if missing or not manual_files:
      raise UserError(
          f"tfds dataset {name!r} is not prepared in {where}, and --manual_dir={data.manual_dir} "
          + (f"lacks {', '.join(missing)}." if missing else "cannot build it (no manual files are known for it).")
          + " Point --data_dir at prepared tfds data, or --manual_dir at a folder holding "
          + (", ".join(manual_files) or "prepared data") + ".")
    config = tfds.download.DownloadConfig(manual_dir=data.manual_dir)
    try:
      builder.download_and_prepare(download_config=config)
    except NonMatchingChecksumError as e:  # a truncated copy or another release of the file
      text = str(e)
      path = re.search(r"downloaded to (.*?), has wrong checksum", text)
      sizes = dict(re.findall(r"\* (Expected|Got): UrlInfo\(size=([^,]+)", text))
      raise UserError(f"{path.group(1) if path else 'a file in --manual_dir=' + data.manual_dir} is not the original "
                      f"file the {name} builder pins (size {sizes.get('Got', '?')}, expected "
                      f"{sizes.get('Expected', '?')}, or other contents). Replace it with the upstream file.") from None
    return builder
  if not _online():
    files = f" or --manual_dir=<folder holding {', '.join(manual_files)}>" if manual_files else ""
    raise UserError(
        f"tfds dataset {name!r} is not prepared in {where} and this machine is offline. "
        f"Pass --data_dir=<folder with prepared tfds data{f' ({name}/...)'}>{files}.")
  builder.download_and_prepare()
  return builder


def load(name, split, data, manual_files=(), supervised=True):
  """(features..., label) tuples (or feature dicts) of one split, in file order (shuffling is the pipeline's job)."""
  builder = ensure_prepared(name, data, manual_files)
  return builder.as_dataset(split=split, as_supervised=supervised, shuffle_files=False)
