"""tfds builder for the English Web Treebank in Universal Dependencies (UD_English-EWT, release 2.15).

Splits train (12,544 sentences, 204,577 words), validation (the `dev` file: 2,001 / 25,147) and test (2,077 /
25,094), each in file order. Every example is one sentence's syntactic words (multiword-token lines and empty
nodes are not words), their UPOS and XPOS (Penn Treebank) tags and the `# sent_id` comment, read with the zoo's
own CoNLL-U reader (tasks/conll_files.py). Online the files come from the UD_English-EWT repository at the
release commit pinned in checksums.tsv; offline tfds reads them from --manual_dir.

Silveira, Dozat, de Marneffe, Bowman, Connor, Bauer, Manning (2014). "A Gold Standard Dependency Corpus for
English", LREC 2014. License CC BY-SA 4.0.
"""

import tensorflow_datasets as tfds

from tasks import conll_files
from tasks.builders.ud_english_ewt import COMMIT, FILES

UPSTREAM = f"https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/{COMMIT}/"


class UdEnglishEwt(tfds.core.GeneratorBasedBuilder):
  """UD English EWT: words with universal (UPOS) and Penn Treebank (XPOS) part-of-speech tags."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "UD 2.15 (UD_English-EWT commit 15d613d8)."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = ("Put en_ewt-ud-train.conllu, en_ewt-ud-dev.conllu and en_ewt-ud-test.conllu "
                                  "(UD_English-EWT release 2.15) in manual_dir.")

  def _info(self):
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "words": tfds.features.Sequence(tfds.features.Text()),
            "upos": tfds.features.Sequence(tfds.features.Text()),
            "xpos": tfds.features.Sequence(tfds.features.Text()),
            "sent_id": tfds.features.Text(),   # "" where a sentence has no `# sent_id` comment
        }),
        supervised_keys=("words", "upos"),
        homepage="https://universaldependencies.org/treebanks/en_ewt/",
        citation="Silveira, Dozat, de Marneffe, Bowman, Connor, Bauer, Manning. A Gold Standard Dependency Corpus "
                 "for English. LREC 2014.",
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    paths = dl_manager.download({split: UPSTREAM + name for split, name in FILES.items()})
    return {split: self._generate_examples(path) for split, path in paths.items()}

  def _generate_examples(self, path):
    text = path.read_text(encoding="utf-8")
    for i, sentence in enumerate(conll_files.parse_conllu(text, source=str(path))):
      yield i, {"words": sentence.words, "upos": sentence.upos, "xpos": sentence.xpos, "sent_id": sentence.sent_id}
