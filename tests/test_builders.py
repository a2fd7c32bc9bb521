"""Project tfds builders build offline from --manual_dir files, checked against ../shared/datasets."""

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tasks.builders.ett.ett  # noqa: F401  (registers the builder)
from common.errors import UserError
from tasks import tfds_data
from tasks.base import DataConfig
from tests.conftest import SHARED

ETT_DIR = os.path.join(SHARED, "datasets", "ett_small")


def _ett_csv(path, rows, header="date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT"):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(header + "\n" + "".join(f"2016-07-01 00:{i:02d}:00,{','.join(['1.5'] * 7)}\n" for i in range(rows)))


def test_a_manual_file_that_is_not_the_pinned_original_is_named(tmp_path):
  _ett_csv(tmp_path / "manual" / "ETTh1.csv", rows=3)
  data = DataConfig(data_dir=str(tmp_path / "data"), manual_dir=str(tmp_path / "manual"))
  with pytest.raises(UserError, match=r"manual/ETTh1.csv is not the original file the ett/h1 builder pins "
                                      r"\(size .* expected 2.47 MiB"):
    tfds_data.ensure_prepared("ett/h1", data, ("ETTh1.csv",))


def test_every_ett_series_is_pinned_so_tfds_reads_it_from_manual_dir():
  from tasks.builders import ett
  pinned = (open(os.path.join(os.path.dirname(ett.__file__), "checksums.tsv")).read())
  for file_name, _ in ett.SERIES.values():
    assert f"\t{file_name}\n" in pinned or pinned.endswith(f"\t{file_name}"), file_name


@pytest.mark.skipif(not os.path.exists(os.path.join(ETT_DIR, "ETTh1.csv")), reason=f"no ETTh1.csv in {ETT_DIR}")
def test_ett_builds_offline_from_manual_dir_in_time_order(tmp_path):
  builder = tfds.builder("ett/h1", data_dir=str(tmp_path))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=ETT_DIR))
  (series,) = list(builder.as_dataset(split="full").as_numpy_iterator())
  assert series["values"].shape == (17420, 7) and series["values"].dtype == np.float32
  assert series["date"][0] == b"2016-07-01 00:00:00" and series["date"][-1] == b"2018-06-26 19:00:00"
  np.testing.assert_allclose(series["values"][0], [5.827, 2.009, 1.599, 0.462, 4.203, 1.340, 30.531], atol=1e-3)


@pytest.mark.skipif(not os.path.exists(os.path.join(ETT_DIR, "ETTm2.csv")), reason=f"no ETTm2.csv in {ETT_DIR}")
def test_ettm2_builds_offline_from_its_pinned_manual_file(tmp_path):
  data = DataConfig(data_dir=str(tmp_path), manual_dir=ETT_DIR)
  (series,) = list(tfds_data.load("ett/m2", "full", data, ("ETTm2.csv",), supervised=False).as_numpy_iterator())
  assert series["values"].shape == (69680, 7) and series["date"][0] == b"2016-07-01 00:00:00"
