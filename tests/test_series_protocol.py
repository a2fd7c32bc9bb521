"""The forecasting protocol's borders, scaler and windows, checked against Informer's data loaders."""

import numpy as np
import pytest

from tasks.series_protocol import SPLITS, Scaler, Span, ett_spans, ratio_spans, window_count, windows


def test_ett_hourly_borders_and_window_counts_match_informer():
  spans = ett_spans(input_length=336, steps_per_day=24)
  assert spans["train"] == Span(0, 8640)
  assert spans["validation"] == Span(8640 - 336, 11520)
  assert spans["test"] == Span(11520 - 336, 14400)
  # The window counts the published ETTh1 tables were computed over (input 336, horizon 96).
  assert [window_count(spans[s], 336, 96) for s in SPLITS] == [8209, 2785, 2785]


def test_ett_quarter_hourly_spans_are_four_times_longer():
  spans = ett_spans(input_length=96, steps_per_day=96)
  assert spans["train"].end == 34560 and spans["test"] == Span(46080 - 96, 57600)


def test_ratio_borders_for_other_series():
  spans = ratio_spans(rows=1000, input_length=10)
  assert spans == {"train": Span(0, 700), "validation": Span(690, 800), "test": Span(790, 1000)}
  # Every test row is a target of some window, and the first target is the first test row.
  inputs, targets = windows(np.arange(1000.0)[:, None], spans["test"], 10, 5)
  assert targets[0, 0, 0] == 800 and targets[-1, -1, 0] == 999 and len(inputs) == 200 - 5 + 1


def test_windows_slide_by_one_and_targets_follow_inputs():
  values = np.arange(40.0).reshape(20, 2)
  inputs, targets = windows(values, Span(3, 15), input_length=4, horizon=2)
  assert inputs.shape == (7, 4, 2) and targets.shape == (7, 2, 2)
  np.testing.assert_array_equal(inputs[0, :, 0], [6, 8, 10, 12])
  np.testing.assert_array_equal(targets[0, :, 0], [14, 16])
  np.testing.assert_array_equal(inputs[1, 0], values[4])
  np.testing.assert_array_equal(targets[-1, -1], values[14])


def test_a_span_shorter_than_one_window_has_none():
  inputs, targets = windows(np.zeros((10, 3)), Span(0, 10), input_length=8, horizon=3)
  assert inputs.shape == (0, 8, 3) and targets.shape == (0, 3, 3)


def test_the_scaler_sees_only_what_it_is_fitted_on():
  train, later = np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[100.0, -7.0]])
  scaler = Scaler.fit(train)
  np.testing.assert_array_equal(scaler.mean, [2.0, 5.0])
  np.testing.assert_array_equal(scaler.scale, [1.0, 1.0])     # the constant column keeps scale 1
  np.testing.assert_allclose(scaler.inverse(scaler.transform(later)), later)


@pytest.mark.parametrize("input_length", [96, 336, 720])
def test_validation_and_test_windows_forecast_every_step_of_their_span(input_length):
  spans = ett_spans(input_length, 24)
  values = np.arange(17420.0)[:, None]
  for split, first_target in (("validation", 8640), ("test", 11520)):
    _, targets = windows(values, spans[split], input_length, 96)
    assert targets[0, 0, 0] == first_target and targets[-1, -1, 0] == spans[split].end - 1
