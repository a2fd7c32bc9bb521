"""Stopping a run on SIGTERM or SIGINT (kill, timeout, docker stop, a scheduler's preemption, Ctrl-C) so that it
resumes: metrics.json says `stopped`, never `running` forever, and no traceback is printed.

Inside `graceful()`, while the training loop runs (`in_training_loop()`), the first signal only asks to stop: the
loop checkpoints at its next call boundary and raises Stopped, so at most one graph call (about half a second of
work) is lost. Anywhere else (testing, exporting) Stopped is raised at once; so is it on a second signal.
"""

import contextlib
import signal
import threading

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_state = {"requested": None, "in_loop": False}


class Stopped(BaseException):
  """A signal stopped the run (a BaseException, like KeyboardInterrupt: no `except Exception` swallows it)."""

  def __init__(self, signum):
    self.signum = signum
    super().__init__(f"stopped by {signal.Signals(signum).name}")


def requested():
  """The signal that asked to stop, or None."""
  return _state["requested"]


def _handler(signum, frame):
  first = _state["requested"] is None
  _state["requested"] = signum
  if not (first and _state["in_loop"]):
    raise Stopped(signum)


@contextlib.contextmanager
def graceful():
  """Installs the handlers (main thread only; elsewhere the process keeps its own) for the duration."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  previous = {s: signal.getsignal(s) for s in SIGNALS}
  for s in SIGNALS:
    signal.signal(s, _handler)
  try:
    yield
  finally:
    for s, handler in previous.items():
      signal.signal(s, handler)
    _state["requested"] = None


@contextlib.contextmanager
def in_training_loop():
  """Inside it, a first signal waits for the loop's next safe point (the loop checks `requested()`)."""
  _state["in_loop"] = True
  try:
    yield
  finally:
    _state["in_loop"] = False
