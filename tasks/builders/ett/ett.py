"""tfds builder for the Electricity Transformer Temperature data (ETT-small; Zhou et al., Informer, AAAI 2021).

Configs h1, h2 (hourly) and m1, m2 (15-minute). One example holds a whole series in time order (tfds
shuffles examples by key at write time, which would scramble rows); the forecasting protocol's
chronological train/validation/test borders are the task's business, not the builder's.

Online the CSVs come from the upstream repository; offline put them in --manual_dir (tfds then
reads manual_dir/<file name> because checksums.tsv pins each file's size and sha256).
"""

import csv

import numpy as np
import tensorflow_datasets as tfds

from common.errors import UserError
from tasks.builders.ett import COLUMNS, SERIES

UPSTREAM = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/1d16c8f4f943005d613b5bc962e9eeb06058cf07/ETT-small/"
DESCRIPTIONS = {"h1": "transformer 1, hourly", "h2": "transformer 2, hourly", "m1": "transformer 1, every 15 minutes",
                "m2": "transformer 2, every 15 minutes"}


class EttConfig(tfds.core.BuilderConfig):

  def __init__(self, *, file_name, steps_per_day, **kwargs):
    super().__init__(**kwargs)
    self.file_name = file_name
    self.steps_per_day = steps_per_day


class Ett(tfds.core.GeneratorBasedBuilder):
  """ETT-small: 7 load and oil-temperature series of electricity transformers, 2016-07 to 2018-06."""

  VERSION = tfds.core.Version("1.0.0")
  BUILDER_CONFIGS = [EttConfig(name=name, file_name=file_name, steps_per_day=steps, description=DESCRIPTIONS[name])
                     for name, (file_name, steps) in SERIES.items()]
  MANUAL_DOWNLOAD_INSTRUCTIONS = "Put ETTh1.csv, ETTh2.csv, ETTm1.csv and ETTm2.csv (ETDataset's ETT-small/) in manual_dir."

  def _info(self):
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "date": tfds.features.Tensor(shape=(None,), dtype=np.str_),
            "values": tfds.features.Tensor(shape=(None, len(COLUMNS)), dtype=np.float32),
        }),
        homepage="https://github.com/zhouhaoyi/ETDataset",
        citation="Zhou et al., Informer: Beyond Efficient Transformer for Long Sequence Time-Series Forecasting, "
                 "AAAI 2021.",
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    return {"full": self._generate_examples(dl_manager.download(UPSTREAM + self.builder_config.file_name))}

  def _generate_examples(self, path):
    with open(path, newline="", encoding="utf-8") as f:
      rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    if tuple(header[1:]) != COLUMNS:
      raise UserError(f"{path} is not an ETT-small file: expected columns date,{','.join(COLUMNS)}; "
                      f"found {','.join(header)}.")
    try:
      values = np.array([r[1:] for r in body], np.float32)
    except ValueError as e:
      raise UserError(f"{path} is not an ETT-small file: {e}.") from None
    yield 0, {"date": np.array([r[0] for r in body], dtype=object), "values": values}
