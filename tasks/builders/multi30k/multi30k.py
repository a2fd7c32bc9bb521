"""tfds builder for Multi30k (Elliott et al. 2016), task 1: German and English descriptions of Flickr images.

Splits train (29,000 pairs), validation (1,014) and test (test_2016_flickr, 1,000), each in file
order. Online the gzipped files come from the multi30k/dataset repository (data/task1/raw, pinned to
a commit in checksums.tsv); offline tfds reads them from --manual_dir.
"""

import gzip

import tensorflow_datasets as tfds

from tasks.builders.multi30k import FILES, LANGUAGES

UPSTREAM = "https://raw.githubusercontent.com/multi30k/dataset/a3d2e0d2/data/task1/raw/"


class Multi30k(tfds.core.GeneratorBasedBuilder):
  """Multi30k task 1: one English description of each image and its German translation."""

  VERSION = tfds.core.Version("1.0.0")
  MANUAL_DOWNLOAD_INSTRUCTIONS = ("Put train, val and test_2016_flickr .de.gz / .en.gz (multi30k/dataset's "
                                  "data/task1/raw/) in manual_dir.")

  def _info(self):
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({language: tfds.features.Text() for language in LANGUAGES}),
        supervised_keys=LANGUAGES,
        homepage="https://github.com/multi30k/dataset",
        citation="Elliott, Frank, Sima'an, Specia. Multi30K: Multilingual English-German Image Descriptions. "
                 "Workshop on Vision and Language, 2016.",
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    paths = dl_manager.download({f"{split}.{language}": f"{UPSTREAM}{stem}.{language}.gz"
                                 for split, stem in FILES.items() for language in LANGUAGES})
    return {split: self._generate_examples({language: paths[f"{split}.{language}"] for language in LANGUAGES})
            for split in FILES}

  def _generate_examples(self, paths):
    lines = {}
    for language, path in paths.items():
      with gzip.open(path, "rt", encoding="utf-8") as f:
        lines[language] = f.read().split("\n")
      if lines[language] and lines[language][-1] == "":
        lines[language].pop()
    if len(lines["de"]) != len(lines["en"]):
      raise ValueError(f"{paths['de']} and {paths['en']} are not aligned: {len(lines['de'])} and "
                       f"{len(lines['en'])} lines")
    for i, (de, en) in enumerate(zip(lines["de"], lines["en"])):
      yield i, {"de": de.strip(), "en": en.strip()}
