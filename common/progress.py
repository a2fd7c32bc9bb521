"""Progress on every step a user waits for: Keras' Progbar where a person watches (a terminal, a notebook), a log
line every LOG_EVERY_SECONDS otherwise (a log file, CI, nohup), so a long pass never runs silent.

    progress = Progress("test split", target=len(batches))
    for batch in batches:
      ...
      progress.update(1, [("accuracy", running)])
    progress.close()
"""

import logging
import sys
import time

import keras

LOG_EVERY_SECONDS = 30.0

log = logging.getLogger("rnnzoo")


def interactive():
  """Whether someone watches the output: a terminal, or a Jupyter/IPython kernel."""
  return sys.stdout.isatty() or "ipykernel" in sys.modules


class Progress:
  """`title`, counting `unit`s towards `target` (None when the end is unknown)."""

  def __init__(self, title, target=None, unit="steps", start=0, stateful=()):
    self.title, self.target, self.unit = title, target, unit
    self.done, self.started = start, time.monotonic()
    self.last_log = self.started
    self.bar = None
    if interactive():
      print(title, flush=True)
      self.bar = keras.utils.Progbar(target, stateful_metrics=list(stateful), unit_name=unit.rstrip("s") or "step")

  def update(self, steps=1, values=None):
    """`steps` more done; `values`: [(name, number)] to show (running means on the bar)."""
    self.done += steps
    if self.bar is not None:
      self.bar.update(self.done, values=values)
      return
    now = time.monotonic()
    if now - self.last_log >= LOG_EVERY_SECONDS:
      self.last_log = now
      of = f"/{self.target}" if self.target else ""
      shown = "".join(f", {name} {value:.4g}" for name, value in (values or []))
      log.info("%s: %d%s %s (%.0f s)%s", self.title, self.done, of, self.unit, now - self.started, shown)

  def close(self):
    if self.bar is not None and self.target is None:
      self.bar.update(self.done, finalize=True)
    if self.bar is None and time.monotonic() - self.started >= LOG_EVERY_SECONDS:
      log.info("%s: done, %d %s in %.0f s", self.title, self.done, self.unit, time.monotonic() - self.started)
