"""Project tfds builders build offline from --manual_dir files, checked against ../shared/datasets."""

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tasks.builders.ett  # noqa: F401  (registers the builder)
from tests.conftest import SHARED

ETT_DIR = os.path.join(SHARED, "datasets", "ett_small")


@pytest.mark.skipif(not os.path.exists(os.path.join(ETT_DIR, "ETTh1.csv")), reason=f"no ETTh1.csv in {ETT_DIR}")
def test_ett_builds_offline_from_manual_dir_in_time_order(tmp_path):
  builder = tfds.builder("ett/h1", data_dir=str(tmp_path))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=ETT_DIR))
  (series,) = list(builder.as_dataset(split="full").as_numpy_iterator())
  assert series["values"].shape == (17420, 7) and series["values"].dtype == np.float32
  assert series["date"][0] == b"2016-07-01 00:00:00" and series["date"][-1] == b"2018-06-26 19:00:00"
  np.testing.assert_allclose(series["values"][0], [5.827, 2.009, 1.599, 0.462, 4.203, 1.340, 30.531], atol=1e-3)
