"""Where a run's figures come from: the versions of what computed them, the code, and the machine. Recorded in
metrics.json (`environment`) at every start, so two tables can be told apart."""

import os
import platform
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cpu_model():
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def _commit():
  """The checkout's commit (with "+changes" when files differ from it), or None outside a git checkout."""
  try:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
    if commit.returncode != 0:
      return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True,
                           text=True, timeout=10).stdout.strip()
    return commit.stdout.strip() + ("+changes" if dirty else "")
  except (OSError, subprocess.SubprocessError):
    return None


def environment():
  import keras
  import tensorflow as tf
  from importlib import metadata

  from models import kernels

  def version(package):
    try:
      return metadata.version(package)
    except metadata.PackageNotFoundError:
      return None

  gpus = [getattr(d, "name", str(d)) for d in tf.config.list_physical_devices("GPU")]
  kernel = ("Keras (cuDNN where it applies)" if gpus else
            "the zoo's fused CPU op (models/kernels)" if kernels.available() else "Keras' generic loop")
  return {
      "python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
      "tensorflow_datasets": version("tensorflow-datasets"), "numpy": version("numpy"), "commit": _commit(),
      "cpu": _cpu_model(), "cpu_cores": os.cpu_count(), "platform": platform.platform(),
      "gpus": gpus, "recurrent_kernel": kernel, "argv": sys.argv,
  }
