"""The task registry: `get(name)` returns a Task class, `names()` lists them.

A new task is a Task subclass (tasks/base.py) added with `register`, or one row in _TASKS.
"""

from common.errors import UserError
from tasks.forecast import Forecast
from tasks.mnist import Mnist
from tasks.mnist_drawing import MnistDrawing
from tasks.sentiment import Sentiment
from tasks.textgen import TextGeneration
from tasks.translation import Translation

Mnist.variants = {"one_to_many": MnistDrawing}
_TASKS = {task.name: task for task in (Sentiment, Mnist, TextGeneration, Forecast, Translation)}


def register(task_class):
  """Adds a Task class under its `name`; usable as a class decorator."""
  if task_class.name in _TASKS and _TASKS[task_class.name] is not task_class:
    raise ValueError(f"task {task_class.name!r} is registered twice")
  _TASKS[task_class.name] = task_class
  return task_class


def all_classes():
  """Every Task class, variants included."""
  return [c for task in _TASKS.values() for c in (task, *task.variants.values())]


def names():
  return sorted(_TASKS)


def get(name, topology=None):
  """The Task class of `name`, or of its variant serving `topology` (mnist draws digits as one_to_many)."""
  try:
    task = _TASKS[name]
  except KeyError:
    raise UserError(f"--task={name} is not a known task; choose one of: {', '.join(names())}.") from None
  return task.variants.get(topology, task)


def create(config):
  """The Task object a RunConfig describes."""
  return get(config.task, config.topology)(config.data, config.options)
