"""The run directory (--model_dir): what lives where, and writes that a crash cannot half-finish.

    config.json        resolved settings (engine/config.py)
    flags.txt          the same as train.py flags: `--flagfile=<run>/flags.txt` replays (resumes) the run
    metrics.json       status, timings and validation/test metrics
    vocabulary.txt     task preprocessing state, when the task has one
    checkpoints/       tf.train.Checkpoint of model, optimizer, seeds and loop position
    best.weights.h5    the weights with the best validation score so far
    logs/              TensorBoard
    export/            SavedModel serving raw inputs; assets/rnnzoo_config.json makes it self-describing
    .lock              held (flock) by the live run training here; the kernel frees it when that process dies
"""

import fcntl
import logging
import os
import shutil
import tempfile

from engine.config import RunConfig, differing_fields
from common.errors import UserError
from common.files import read_json, write_json_atomic, write_text_atomic


log = logging.getLogger("rnnzoo")

MIN_FREE_MB = 200   # checkpoints of the largest presets plus an export


def grid_path(root, task, model, topology=None, dataset=None):
  """Where a grid puts one run: <root>/<task>[-<dataset>]/<model>[-<topology>].

  The dataset and topology appear only when the user chose them, so runs of one task on several datasets
  (or topologies) sit side by side instead of colliding in one directory.
  """
  task_dir = task + (f"-{dataset.replace('/', '-')}" if dataset else "")
  return os.path.join(root, task_dir, model + (f"-{topology}" if topology else ""))


UNREADABLE_CONFIG = (OSError, ValueError, TypeError, KeyError)   # a missing, damaged or foreign config.json


class RunDir:

  def __init__(self, path):
    self.path = path
    self.config_path = os.path.join(path, "config.json")
    self.metrics_path = os.path.join(path, "metrics.json")
    self.checkpoints = os.path.join(path, "checkpoints")
    self.best_weights = os.path.join(path, "best.weights.h5")
    self.logs = os.path.join(path, "logs")
    self.export = os.path.join(path, "export")

  def exists(self):
    return os.path.exists(self.config_path)

  def _read_config(self):
    # Through RunConfig, so settings added since that run was made read as their defaults.
    return RunConfig.from_json(read_json(self.config_path))

  def stored_config(self):
    """The RunConfig this directory holds, or None (no run, or a config.json check_compatible will refuse)."""
    try:
      return self._read_config()
    except UNREADABLE_CONFIG:
      return None

  def check_compatible(self, config: RunConfig):
    """Refuses to reuse a directory that holds a run with other settings."""
    if not self.exists():
      if os.path.isdir(self.path) and os.listdir(self.path):
        raise UserError(f"--model_dir={self.path} is not empty and holds no run (no config.json); "
                        "choose an empty or new directory.")
      return
    try:
      old = self._read_config().to_json()
    except UNREADABLE_CONFIG as e:
      raise UserError(f"{self.config_path} is unreadable ({e}); choose another --model_dir.") from None
    diff = differing_fields(old, config.to_json())
    if diff:
      raise UserError(f"--model_dir={self.path} holds a run with other settings ({'; '.join(diff)}). "
                      "Use a new --model_dir, or repeat the original flags to resume it.")

  def check_not_in_use(self):
    """Refuses a directory (holding a run) that another live process is training in."""
    self.acquire().close()

  def acquire(self):
    """Locks the run directory for this process; returns the open lock file (closing it releases the lock)."""
    try:
      lock = open(os.path.join(self.path, ".lock"), "a+", encoding="utf-8")
    except OSError as e:
      raise UserError(f"--model_dir={self.path} cannot be written ({e.strerror}); choose a writable --model_dir.") from None
    try:
      fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      lock.seek(0)
      owner = lock.read().strip() or "unknown"
      lock.close()
      raise UserError(f"--model_dir={self.path} is in use by another live run (pid {owner}); wait for it to "
                      "finish or stop it, or choose another --model_dir.") from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    return lock

  def check_writable(self):
    """Fails before training when the run directory cannot be created or written, or its disk is nearly full."""
    parent = os.path.abspath(self.path)
    while not os.path.exists(parent):
      parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
      raise UserError(f"--model_dir={self.path} cannot be created: {parent} is a file, not a directory.")
    try:
      tempfile.TemporaryFile(dir=parent).close()
    except OSError as e:
      raise UserError(f"--model_dir={self.path} cannot be written ({parent}: {e.strerror}).") from None
    free_mb = shutil.disk_usage(parent).free // 2**20
    if free_mb < MIN_FREE_MB:
      raise UserError(f"--model_dir={self.path} is on a disk with {free_mb} MB free; a run needs at least "
                      f"{MIN_FREE_MB} MB for checkpoints and its export. Free space or choose another --model_dir.")

  def create(self, config: RunConfig):
    """Makes the directory and writes config.json and flags.txt (`python train.py --flagfile=<run>/flags.txt`
    replays the run), again on resume: a resumable setting may have changed."""
    os.makedirs(self.path, exist_ok=True)
    write_json_atomic(self.config_path, config.to_json())
    write_text_atomic(os.path.join(self.path, "flags.txt"), "\n".join(config.to_flags(self.path)) + "\n")

  def metrics(self):
    """metrics.json's content; a damaged one (truncated by a crash, edited by hand) is moved aside with a warning
    and read as empty: what the run has done is in its checkpoints, from which it resumes."""
    if not os.path.exists(self.metrics_path):
      return {}
    try:
      metrics = read_json(self.metrics_path)
      if isinstance(metrics, dict):
        return metrics
      reason = f"it holds a {type(metrics).__name__}, not an object"
    except (OSError, ValueError) as e:
      reason = str(e)
    aside = f"{self.metrics_path}.unreadable"
    os.replace(self.metrics_path, aside)
    log.warning("%s was unreadable (%s); moved it to %s. The run goes on from its checkpoints; the epochs' history "
                "before now is lost from metrics.json (TensorBoard's logs keep it).", self.metrics_path, reason, aside)
    return {}

  def update_metrics(self, **fields):
    write_json_atomic(self.metrics_path, {**self.metrics(), **fields})
