"""The task registry: `get(name)` returns a Task class, `names()` lists them.

A new task is a Task subclass (tasks/base.py) added with `register`, or one row in _TASKS.
"""

from engine.errors import UserError
from tasks.mnist import Mnist
from tasks.sentiment import Sentiment

_TASKS = {task.name: task for task in (Sentiment, Mnist)}


def register(task_class):
  """Adds a Task class under its `name`; usable as a class decorator."""
  if task_class.name in _TASKS and _TASKS[task_class.name] is not task_class:
    raise ValueError(f"task {task_class.name!r} is registered twice")
  _TASKS[task_class.name] = task_class
  return task_class


def names():
  return sorted(_TASKS)


def get(name):
  try:
    return _TASKS[name]
  except KeyError:
    raise UserError(f"--task={name} is not a known task; choose one of: {', '.join(names())}.") from None
