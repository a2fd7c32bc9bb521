"""What train.py and evaluate.py share on the command line: data flags and the error exit."""

import functools
import logging
import sys

from absl import flags
from absl import logging as absl_logging

from engine.errors import UserError
from tasks.base import DataConfig

flags.DEFINE_string("data_dir", None, "Where prepared tfds data lives (tfds' data_dir; default ~/tensorflow_datasets).")
flags.DEFINE_string("manual_dir", None, "A folder of original dataset files, to build tfds data offline.")

FLAGS = flags.FLAGS


def data_config():
  return DataConfig(data_dir=FLAGS.data_dir, manual_dir=FLAGS.manual_dir)


def _show_progress_messages():
  """The zoo's own INFO lines on stderr; TensorFlow's and tfds' INFO chatter only with an explicit --verbosity."""
  if not FLAGS["verbosity"].present:
    absl_logging.set_verbosity(absl_logging.WARNING)
  log = logging.getLogger("rnnzoo")
  if not log.handlers:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def user_errors_exit(main):
  """Turns a UserError into one line on stderr and exit status 2, instead of a traceback."""

  @functools.wraps(main)
  def wrapped(argv):
    _show_progress_messages()
    if len(argv) > 1:
      print(f"error: unexpected arguments {' '.join(argv[1:])}; every option is a --flag.", file=sys.stderr)
      sys.exit(2)
    try:
      return main(argv)
    except UserError as e:
      print(f"error: {e}", file=sys.stderr)
      sys.exit(2)

  return wrapped
