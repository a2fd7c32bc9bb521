"""What train.py and evaluate.py share on the command line: flags made from declared settings, data flags, and the
error exit."""

import dataclasses
import functools
import logging
import sys

from absl import flags
from absl import logging as absl_logging

import tasks
from common.errors import UserError
from engine import stopping
from engine.loop import Diverged
from tasks.base import DataConfig

flags.DEFINE_string("data_dir", None, "Where prepared tfds data lives (tfds' data_dir; default ~/tensorflow_datasets).")
flags.DEFINE_string("manual_dir", None, "A folder of original dataset files, to build tfds data offline.")
flags.DEFINE_string("data_file", None, "Your own data instead of the task's tfds dataset (textgen: a text file; "
                    "forecast: a CSV with a header, a time column and value columns, rows in time order; translation: "
                    "source<TAB>target lines; tagging: a CoNLL-U or column file, or train,validation,test files).")
flags.DEFINE_string("encoding", None, "The text encoding of --data_file (default utf-8; e.g. latin-1, cp1252).")

FLAGS = flags.FLAGS
_DEFINE_BY_TYPE = {bool: flags.DEFINE_boolean, int: flags.DEFINE_integer, float: flags.DEFINE_float,
                   str: flags.DEFINE_string}


def data_config():
  return DataConfig(data_dir=FLAGS.data_dir, manual_dir=FLAGS.manual_dir, data_file=FLAGS.data_file,
                    encoding=FLAGS.encoding or DataConfig.encoding)


def define_flags(settings, defaults=None):
  """One flag per Setting (name -> Setting), unset by default so the task's tuned default (or the setting's own)
  applies; choices become an enum. `defaults` (name -> words) says in --help what unset means. Returns the
  settings."""
  for name, setting in settings.items():
    described = setting.described() + (f" ({defaults[name]})" if defaults and name in defaults else "")
    if setting.choices:
      flags.DEFINE_enum(name, None, [str(c) for c in setting.choices], described)
    else:
      _DEFINE_BY_TYPE[setting.type](name, None, described)
  return dict(settings)


def define_task_flags(stage):
  """The flags of every task's settings for `stage` ("train": run settings; "evaluate": evaluating an export),
  each defined once however many tasks share it."""
  settings, defaults = {}, {}
  for task in tasks.all_classes():
    for name, setting in task.options.items():
      if getattr(setting, stage):
        shared = settings.setdefault(name, setting)
        if shared.choices != setting.choices:   # the flag takes any task's choice; each task checks its own
          settings[name] = dataclasses.replace(shared, choices=tuple(dict.fromkeys(shared.choices + setting.choices)))
        defaults.setdefault(name, {})[tasks.label(task)] = setting.default
  words = {name: "default " + ", ".join(f"{task} {value}" for task, value in by_task.items())
           for name, by_task in defaults.items() if any(v is not None for v in by_task.values())}
  return define_flags(settings, words)


def explicit(settings):
  """{name: value} of the flags among `settings` that the user set, each checked against its Setting."""
  given = {name: FLAGS[name].value for name in settings if FLAGS[name].present}
  for name, value in given.items():
    settings[name].check(name, value)
  return given


HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull", "--helpxml")


def parse_flags(argv):
  """absl's flag parsing, with a flag of the wrong type or a missing required flag exiting 2 like every other user
  mistake (absl exits 1, which here means a diverged run)."""
  try:
    return FLAGS(argv)
  except SystemExit:
    if any(arg.split("=")[0] in HELP_FLAGS for arg in argv[1:]):
      sys.exit(0)   # absl exits 1 after printing help; asking for help is no failure
    raise
  except flags.Error as e:
    print(f"error: {e}", file=sys.stderr)
    print(f"Pass --help to see the flags of {argv[0]}.", file=sys.stderr)
    sys.exit(2)


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
  """Turns a UserError into one line on stderr and exit status 2 (a diverged run: exit 1), instead of a traceback."""

  @functools.wraps(main)
  def wrapped(argv):
    _show_progress_messages()
    if len(argv) > 1:
      print(f"error: unexpected arguments {' '.join(argv[1:])}; every option is a --flag.", file=sys.stderr)
      sys.exit(2)
    try:
      with stopping.graceful():
        return main(argv)
    except UserError as e:
      print(f"error: {e}", file=sys.stderr)
      sys.exit(2)
    except Diverged as e:
      print(f"error: training failed: {e}", file=sys.stderr)
      sys.exit(1)
    except stopping.Stopped as e:   # the shell's convention: 128 + the signal's number
      print(f"{e}; the last checkpoint is kept: run the same command to resume.", file=sys.stderr)
      sys.exit(128 + e.signum)

  return wrapped
