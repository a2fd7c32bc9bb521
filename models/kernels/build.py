"""Compiles rnn_ops.cc against the installed TensorFlow, once per (source, TensorFlow, compiler, CPU).

    python -m models.kernels.build     # builds now (or finds the cached build) and prints its path

Normally nothing calls this by hand: the first use of `models.kernels` builds the library (about half a
minute) into `_build/` beside this file (git-ignored). The file name carries a hash of everything the binary
depends on, so a checkout moved to another machine, another TensorFlow or an edited source builds afresh
instead of loading a stale library. It is compiled with -march=native, which is why the CPU's model and
instruction-set flags are part of that hash: such a binary must never be loaded on a CPU it was not built for.

Two processes may build at once (two tests, two training runs): each compiles into its own temporary file and
renames it into place, which is atomic, and an flock makes the second wait for the first instead of
compiling twice. A failed build leaves `<name>.failed.log` so that later processes fall back at once instead
of failing again; running this module retries.
"""

import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from absl import logging

SOURCE = Path(__file__).with_name("rnn_ops.cc")
BUILD_DIR = Path(__file__).with_name("_build")
# -ffp-contract=fast: fused multiply-adds in the cells' elementwise math; TF's --std=c++17 turns them off.
FLAGS = ["-O3", "-shared", "-fPIC", "-ffp-contract=fast", "-Wno-deprecated-declarations", "-Wno-interference-size"]
# Added to -march=native where the compiler knows them (probed when building, not on every load: the answer follows
# from the compiler and the CPU, both in the cache key). -mno-avx512fp16: with AVX512-FP16 on (GCC 12 on Sapphire
# Rapids) the Eigen headers TensorFlow 2.21 ships fail to compile (PacketMathFP16.h); the kernels use no half floats.
NATIVE_IF_ACCEPTED = ["-mno-avx512fp16"]
TIMEOUT_SECONDS = 900


class BuildError(Exception):
  """The library cannot be built here; the message says why in one line."""


def library_path():
  """The cached library for this machine, built first if need be. Raises BuildError."""
  return _build(force=False)


def _build(force):
  import tensorflow as tf  # here, not at import: `python -m models.kernels.build --help`-like uses stay fast

  compiler = shutil.which(os.environ.get("CXX", "g++"))
  if compiler is None:
    raise BuildError(f"no C++ compiler ({os.environ.get('CXX', 'g++')}) on PATH")
  cpu = _cpu_description()
  command_flags = FLAGS + (["-march=native"] if cpu else [])
  key = hashlib.sha256("\n".join([
      SOURCE.read_text(), " ".join(command_flags + (NATIVE_IF_ACCEPTED if cpu else [])), tf.__version__,
      " ".join(tf.sysconfig.get_compile_flags()), " ".join(tf.sysconfig.get_link_flags()), _compiler_version(compiler),
      cpu or "generic",
  ]).encode()).hexdigest()[:16]
  library = BUILD_DIR / f"rnn_ops-{key}.so"
  failure_log = BUILD_DIR / f"rnn_ops-{key}.failed.log"
  if library.exists():
    return library
  if failure_log.exists() and not force:
    raise BuildError(f"an earlier build failed (log: {failure_log}; `python -m models.kernels.build` retries)")

  BUILD_DIR.mkdir(parents=True, exist_ok=True)
  with open(BUILD_DIR / f"rnn_ops-{key}.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
    if library.exists():  # another process built it while this one waited
      return library
    logging.info("Building the RNN kernels (once per machine and TensorFlow version): %s", library)
    handle, temporary = tempfile.mkstemp(dir=BUILD_DIR, prefix=f".rnn_ops-{key}-", suffix=".so")
    os.close(handle)
    if cpu:
      command_flags += [flag for flag in NATIVE_IF_ACCEPTED if _accepts(compiler, flag)]
    command = [compiler, *command_flags, *tf.sysconfig.get_compile_flags(), str(SOURCE), "-o", temporary,
               *tf.sysconfig.get_link_flags()]
    try:
      result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as error:
      result = subprocess.CompletedProcess(command, -1, "", str(error))
    if result.returncode != 0:
      os.unlink(temporary)
      failure_log.write_text(" ".join(command) + "\n\n" + result.stdout + result.stderr)
      first_error = next((line for line in result.stderr.splitlines() if "error" in line), result.stderr.strip()[:200])
      raise BuildError(f"compiling {SOURCE.name} failed: {first_error} (log: {failure_log})")
    os.chmod(temporary, 0o755)  # mkstemp made it private; other users of the checkout load it too
    os.replace(temporary, library)
    failure_log.unlink(missing_ok=True)
  return library


def _accepts(compiler, flag):
  """Whether the compiler takes `flag` beside -march=native (older ones do not know every -mno-... flag)."""
  try:
    return subprocess.run([compiler, "-march=native", flag, "-x", "c++", "-E", "-o", os.devnull, os.devnull],
                          capture_output=True, timeout=60).returncode == 0
  except (OSError, subprocess.TimeoutExpired):
    return False


def _cpu_description():
  """The CPU's model and instruction-set flags, or None where they cannot be read (then no -march=native)."""
  if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
    return None
  try:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
  except OSError:
    return None
  fields = {}
  for line in lines:
    name, _, value = line.partition(":")
    fields.setdefault(name.strip(), value.strip())
  if "flags" not in fields:
    return None
  return f"{fields.get('model name', '')} | {' '.join(sorted(fields['flags'].split()))}"


def _compiler_version(compiler):
  try:
    return subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=60).stdout
  except (OSError, subprocess.TimeoutExpired):
    return ""


def main():
  try:
    print(_build(force=True))
  except BuildError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
  main()
