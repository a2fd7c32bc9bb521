"""TensorFlow's start-up lines kept off the console: its C++ runtime writes them to stderr while it loads ("All
log messages before absl::InitializeLog() ...", "oneDNN custom operations are on ..."), before any setting of ours
applies. RNNZOO_TF_LOGS=1 shows them (and TF's own logs, with --verbosity)."""

import os


def import_tensorflow():
  """Imports TensorFlow with the process' stderr pointed at /dev/null meanwhile (a Python error is still raised)."""
  if os.environ.get("RNNZOO_TF_LOGS") == "1":
    import tensorflow  # noqa: F401
    return
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
  os.dup2(null, 2)
  try:
    import tensorflow  # noqa: F401
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(null)
