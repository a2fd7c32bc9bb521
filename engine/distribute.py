"""Where training runs: the tf.distribute strategy (chosen by --strategy), mixed precision and XLA.

The strategy must exist before TensorFlow runs any op, so train.py makes it first thing. With
MultiWorkerMirroredStrategy every worker runs the same program in lockstep; only the chief writes
the run directory, the others write to a temporary directory that is removed at the end (the
pattern of the TF multi-worker guide), and restore from the chief's checkpoints (a shared
filesystem on a cluster).
"""

import json
import os

import keras
import tensorflow as tf

from common.errors import UserError

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")
GUIDE = "docs/distributed.md"


def cluster_workers():
  """How many tasks TF_CONFIG's cluster lists (0 without TF_CONFIG)."""
  raw = os.environ.get("TF_CONFIG")
  if not raw:
    return 0
  try:
    cluster = json.loads(raw)["cluster"]
  except (ValueError, KeyError, TypeError):
    raise UserError(f"TF_CONFIG is not valid JSON with a \"cluster\" entry: {raw[:200]!r}; see {GUIDE}.") from None
  return sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))


def make_strategy(name):
  """auto: multi_worker when TF_CONFIG lists several workers, mirrored on several GPUs, else one device."""
  if name not in STRATEGIES:
    raise UserError(f"--strategy={name} is unknown; choose one of: {', '.join(STRATEGIES)}.")
  gpus = tf.config.list_physical_devices("GPU")
  workers = cluster_workers()
  if name == "multi_worker" or (name == "auto" and workers > 1):
    if workers < 1:
      raise UserError(f"--strategy=multi_worker needs TF_CONFIG in the environment (the cluster's worker "
                      f"addresses and this worker's index); see {GUIDE}.")
    # One shard of tfds data holds every example: the loop shards batches by DATA, not by file (docs/design.md).
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "mirrored" or (name == "auto" and len(gpus) > 1):
    return tf.distribute.MirroredStrategy()
  if name == "one_device":
    return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
  return tf.distribute.get_strategy()


def is_chief(strategy):
  resolver = getattr(strategy.extended, "_cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  has_chief = "chief" in resolver.cluster_spec().as_dict()
  return resolver.task_type == "chief" or (not has_chief and resolver.task_type == "worker" and resolver.task_id == 0)


def is_multi_worker(strategy):
  return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def set_precision(mixed_precision):
  """mixed_float16 needs tensor cores (compute capability >= 7.0); elsewhere it is refused, not silently slow."""
  if not mixed_precision:
    keras.mixed_precision.set_global_policy("float32")
    return
  capable = [gpu for gpu in tf.config.list_physical_devices("GPU")
             if (tf.config.experimental.get_device_details(gpu).get("compute_capability") or (0, 0)) >= (7, 0)]
  if not capable:
    raise UserError("--mixed_precision needs an NVIDIA GPU with compute capability 7.0 or higher (float16 tensor "
                    "cores); this machine has none. Train without it (on CPU it would only be slower).")
  keras.mixed_precision.set_global_policy("mixed_float16")
