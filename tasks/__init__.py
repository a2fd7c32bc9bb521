"""The task registry: `get(name)` returns a Task class, `names()` lists them.

A new task is a Task subclass (tasks/base.py) and one `register` line below. Where one topology of a
task needs other data, loss and serving (mnist drawn with one_to_many instead of read with
many_to_one), `variants` maps that topology to the subclass that serves it, so it is still one task name.
"""

from common.errors import UserError
from tasks.forecast import Forecast
from tasks.language_model import LanguageModel
from tasks.mnist import Mnist
from tasks.mnist_drawing import MnistDrawing
from tasks.sentiment import Sentiment
from tasks.tagging import Tagging
from tasks.textgen import TextGeneration
from tasks.translation import Translation

_TASKS = {}       # name -> Task class
_VARIANTS = {}    # name -> {topology: Task subclass}


def register(task_class, variants=None):
  """Adds a Task class under its `name` (and its topology variants); usable as a class decorator."""
  if task_class.name in _TASKS and _TASKS[task_class.name] is not task_class:
    raise ValueError(f"task {task_class.name!r} is registered twice")
  _TASKS[task_class.name] = task_class
  _VARIANTS[task_class.name] = dict(variants or {})
  return task_class


register(Sentiment)
register(Mnist, variants={"one_to_many": MnistDrawing})
register(TextGeneration)
register(Forecast)
register(Translation)
register(Tagging)
register(LanguageModel)


def all_classes():
  """Every Task class, variants included."""
  return [c for name, task in _TASKS.items() for c in (task, *_VARIANTS[name].values())]


def label(task_class):
  """How a user names the task class on the command line: `mnist`, or `mnist --topology=one_to_many`."""
  for topology, variant in _VARIANTS.get(task_class.name, {}).items():
    if variant is task_class:
      return f"{task_class.name} --topology={topology}"
  return task_class.name


def names():
  return sorted(_TASKS)


def get(name, topology=None):
  """The Task class of `name`, or of its variant serving `topology` (mnist draws digits as one_to_many)."""
  try:
    task = _TASKS[name]
  except KeyError:
    raise UserError(f"--task={name} is not a known task; choose one of: {', '.join(names())}.") from None
  return _VARIANTS[name].get(topology, task)


def create(config):
  """The Task object a RunConfig describes."""
  return get(config.task, config.topology)(config.data, config.options)
