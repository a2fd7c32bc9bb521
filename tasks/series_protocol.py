"""The long-horizon forecasting protocol of Informer / DLinear / PatchTST / SegRNN, as pure numpy.

Borders (Informer's data loaders): ETT splits chronologically into 12 / 4 / 4 months of 30 days;
another series splits 70 / 10 / 20 % (the test share rounded down, validation the rest). The
validation and test spans start input_length steps early, so their first window's input is the
end of the previous span and every target step of the span is forecast. The scaler (mean and
standard deviation per column) is fitted on the training span only. Windows slide by one step;
every window is counted.
"""

import dataclasses

import numpy as np

SPLITS = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class Span:
  start: int   # first row an input window may read
  end: int     # one past the last row a target may read


def ett_spans(input_length, steps_per_day):
  """Spans of the ETT protocol: 12 / 4 / 4 months of 30 days."""
  month = 30 * steps_per_day
  train_end, validation_end, test_end = 12 * month, 16 * month, 20 * month
  return {"train": Span(0, train_end), "validation": Span(train_end - input_length, validation_end),
          "test": Span(validation_end - input_length, test_end)}


def ratio_spans(rows, input_length):
  """Spans of any other series: 70 % train, 20 % test (rounded down), validation in between."""
  train_end = int(rows * 0.7)
  test_start = rows - int(rows * 0.2)
  return {"train": Span(0, train_end), "validation": Span(train_end - input_length, test_start),
          "test": Span(test_start - input_length, rows)}


def window_count(span, input_length, horizon):
  return max(0, span.end - span.start - input_length - horizon + 1)


@dataclasses.dataclass(frozen=True)
class Scaler:
  """Standardisation fitted on the training span (a constant column gets scale 1)."""

  mean: np.ndarray
  scale: np.ndarray

  @classmethod
  def fit(cls, values):
    scale = values.std(axis=0)
    return cls(values.mean(axis=0), np.where(scale > 0, scale, 1.0))

  def transform(self, values):
    return (values - self.mean) / self.scale

  def inverse(self, values):
    return values * self.scale + self.mean


def windows(values, span, input_length, horizon):
  """(inputs [n, input_length, columns], targets [n, horizon, columns]) of every window in the span, in order."""
  n = window_count(span, input_length, horizon)
  if n == 0:
    return (np.zeros((0, input_length, values.shape[1]), values.dtype),
            np.zeros((0, horizon, values.shape[1]), values.dtype))
  part = values[span.start:span.end]
  starts = np.arange(n)[:, None]
  inputs = part[starts + np.arange(input_length)]
  targets = part[starts + input_length + np.arange(horizon)]
  return inputs, targets
