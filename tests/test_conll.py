"""Tagged corpora: the CoNLL-U and CoNLL column readers, the ud_english_ewt tfds builder, conlleval's chunk F1."""

import os
import types

import pytest
import tensorflow_datasets as tfds

import tasks.builders.ud_english_ewt.ud_english_ewt  # noqa: F401  (registers the builder)
from common.errors import UserError
from tasks import conll_files, conlleval, tfds_data
from tests.conftest import SHARED

EWT_DIR = os.path.join(SHARED, "datasets", "ud_english_ewt")

CONLLU = """\
# newdoc id = doc1
# sent_id = doc1-0001
# text = Don't stop.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t3:aux\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t3:advmod\t_
3\tstop\tstop\tVERB\tVB\t_\t0\troot\t0:root\tSpaceAfter=No
3.1\tstop\tstop\tVERB\tVB\t_\t_\t_\t0:root\tCopyOf=3
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t3:punct\t_

# sent_id = doc1-0002
1\t_\t_\tPUNCT\tNFP\t_\t0\troot\t0:root\t_
"""

CONLL2003 = """\
-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

-DOCSTART- -X- -X- O


Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER"""


def _write(tmp_path, name, text):
  path = tmp_path / name
  path.write_text(text, encoding="utf-8")
  return str(path)


def _conllu_line(word_id, form="w", upos="NOUN", xpos="NN"):
  return f"{word_id}\t{form}\t_\t{upos}\t{xpos}\t_\t0\troot\t_\t_\n"


# -- CoNLL-U ----------------------------------------------------------------------------------------

def test_conllu_reads_the_syntactic_words_and_the_chosen_tags():
  assert conll_files.parse(CONLLU, "x") == [(["Do", "n't", "stop", "."], ["AUX", "PART", "VERB", "PUNCT"]),
                                            (["_"], ["PUNCT"])]   # an underscore token is a word
  assert conll_files.parse(CONLLU, "x", scheme="xpos")[0] == (["Do", "n't", "stop", "."], ["VBP", "RB", "VB", "."])
  first, second = conll_files.parse_conllu(CONLLU, "x")
  assert (first.sent_id, first.lines, second.sent_id) == ("doc1-0001", [5, 6, 7, 9], "doc1-0002")


def test_conllu_without_a_final_blank_line_and_with_crlf_line_ends_reads_the_same(tmp_path):
  path = tmp_path / "crlf.conllu"
  path.write_bytes(CONLLU.rstrip("\n").replace("\n", "\r\n").encode("utf-8"))
  assert conll_files.read(str(path)) == conll_files.parse(CONLLU, "x")


@pytest.mark.parametrize("text, message", [
    (_conllu_line(1) + "2\tw\tNOUN\n", r"--data_file=f, line 2: expected 10 tab-separated columns .* found 3"),
    (_conllu_line("x"), r"line 1: the ID 'x' is not a word number"),
    (_conllu_line(0), r"line 1: the ID '0' is not a word number"),
    (_conllu_line(1) + _conllu_line(3), r"line 2: word ID 3 where 2 was expected"),
    ("# c\n" + _conllu_line(1) + _conllu_line(1), r"line 3: word ID 1 where 2 was expected .* a blank line ends"),
    (_conllu_line(1, form=""), r"line 1: the FORM column \(column 2\) is empty"),
    (_conllu_line(1, upos=""), r"line 1: the UPOS column \(column 4\) is empty"),
    ("# only a comment\n\n", r"--data_file=f holds no sentence"),
])
def test_each_malformed_conllu_line_is_named_with_what_was_expected(text, message):
  with pytest.raises(UserError, match=message):
    conll_files.parse(text, "--data_file=f", format="conllu")


def test_a_word_without_the_chosen_tag_names_the_line_and_the_other_scheme():
  text = _conllu_line(1) + _conllu_line(2, xpos="_")
  assert conll_files.parse(text, "f", scheme="upos") == [(["w", "w"], ["NOUN", "NOUN"])]
  with pytest.raises(UserError, match=r"f, line 2: the word has no XPOS tag .* try the upos scheme"):
    conll_files.parse(text, "f", scheme="xpos")
  with pytest.raises(UserError, match=r"tag scheme 'ner' is unknown.* upos, xpos"):
    conll_files.parse(text, "f", scheme="ner")


# -- the CoNLL column format -------------------------------------------------------------------------

def test_columns_skip_docstart_and_pick_the_word_and_tag_columns():
  assert conll_files.parse(CONLL2003, "x") == [(["EU", "rejects", "German"], ["B-ORG", "O", "B-MISC"]),
                                               (["Peter", "Blackburn"], ["B-PER", "I-PER"])]
  chunks = conll_files.parse(CONLL2003, "x", word_column=-4, tag_column=2)
  assert chunks[1] == (["Peter", "Blackburn"], ["B-NP", "I-NP"])
  assert conll_files.parse(CONLL2003, "x", word_column=1, tag_column=0)[0][0] == ["NNP", "VBZ", "JJ"]


def test_columns_split_at_spaces_and_tabs_only():
  text = "10\u00a0000 CD\tO\n  Mr. \t NNP   B-PER  \n"   # a no-break space stays inside the word
  assert conll_files.parse(text, "x") == [(["10\u00a0000", "Mr."], ["O", "B-PER"])]


@pytest.mark.parametrize("text, options, message", [
    ("a B-X\nb c I-X\n", {}, r"f, line 2: 3 columns where the first token line has 2"),
    ("\n\na NN B-X\n", {"tag_column": 3}, r"f, line 3: tag_column=3 is beyond this line's 3 columns "
                                          r"\(valid: 0..2, or -3..-1"),
    ("a B-X\n", {"word_column": -3}, r"f, line 1: word_column=-3 is beyond this line's 2 columns"),
    ("a B-X\n", {"word_column": 1}, r"f, line 1: word_column=1 and tag_column=-1 are the same column"),
    ("-DOCSTART- O\n\n\n", {}, r"f holds no sentence"),
    ("", {}, r"f holds no sentence"),
])
def test_each_malformed_column_line_is_named_with_what_was_expected(text, options, message):
  with pytest.raises(UserError, match=message):
    conll_files.parse(text, "f", format="columns", **options)


def test_the_format_is_detected_from_the_first_line_or_given():
  assert conll_files.detect_format(CONLLU) == "conllu"
  assert conll_files.detect_format("\n" + _conllu_line(1)) == "conllu"
  assert conll_files.detect_format("1-2\t" + "_\t" * 8 + "_\n") == "conllu"
  assert conll_files.detect_format(CONLL2003) == "columns"
  assert conll_files.detect_format("a\t" * 9 + "B-X\n") == "columns"   # ten columns, but no ID first
  assert conll_files.parse("1 2 3\n", "x", format="columns") == [(["1"], ["3"])]
  with pytest.raises(UserError, match=r"format 'conll' is unknown; it must be one of auto, conllu, columns"):
    conll_files.parse(CONLL2003, "x", format="conll")
  with pytest.raises(UserError, match=r"f, line 2: expected 10 tab-separated columns .* given explicitly"):
    conll_files.parse("# id 1\nword B-X\n", "f")


def test_unreadable_files_are_named(tmp_path):
  with pytest.raises(UserError, match=r"--data_file=.*missing.txt does not exist"):
    conll_files.read(str(tmp_path / "missing.txt"))
  with pytest.raises(UserError, match=r"is a directory"):
    conll_files.read(str(tmp_path))
  (tmp_path / "latin1.txt").write_bytes("Zürich B-LOC\n".encode("latin-1"))
  with pytest.raises(UserError, match=r"latin1.txt is not utf-8 text: line 1, column 2"):
    conll_files.read(str(tmp_path / "latin1.txt"))
  with pytest.raises(UserError, match=r"--data_file=.*empty.txt holds no sentence"):
    conll_files.read(_write(tmp_path, "empty.txt", "\n"))


def test_a_data_file_value_names_one_file_or_train_validation_and_test(tmp_path):
  train, dev, test = (_write(tmp_path, f"{name}.txt", f"{name} B-X\n") for name in ("train", "dev", "test"))
  assert conll_files.split_data_file(train) == (train,)
  assert conll_files.split_data_file(f"{train}, {dev},{test}") == (train, dev, test)
  assert conll_files.read_data_files(f"{train},{dev},{test}") == [[(["train"], ["B-X"])], [(["dev"], ["B-X"])],
                                                                  [(["test"], ["B-X"])]]
  with_comma = _write(tmp_path, "a,b.txt", CONLL2003)
  assert conll_files.split_data_file(with_comma) == (with_comma,)
  with pytest.raises(UserError, match=r"names 2 comma-separated paths; give one file .* or three: "
                                      r"train,validation,test"):
    conll_files.split_data_file(f"{train},{dev}")
  with pytest.raises(UserError, match=r"names 3 comma-separated paths \(one of them empty\)"):
    conll_files.split_data_file(f"{train},,{test}")


# -- the ud_english_ewt builder ---------------------------------------------------------------------

def test_a_manual_file_that_is_not_the_pinned_release_is_named(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  for name in ("train", "dev", "test"):
    (manual / f"en_ewt-ud-{name}.conllu").write_text(_conllu_line(1))
  data = types.SimpleNamespace(data_dir=str(tmp_path / "data"), manual_dir=str(manual))
  with pytest.raises(UserError, match=r"en_ewt-ud-.*\.conllu is not the original file the ud_english_ewt builder "
                                      r"pins"):
    tfds_data.ensure_prepared("ud_english_ewt", data, ("en_ewt-ud-train.conllu",))


@pytest.mark.integration
@pytest.mark.skipif(not os.path.isdir(EWT_DIR), reason=f"no UD English EWT files in {EWT_DIR}")
def test_ud_english_ewt_builds_offline_with_the_release_counts_in_file_order(tmp_path):
  builder = tfds.builder("ud_english_ewt", data_dir=str(tmp_path))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=EWT_DIR))
  expected = {"train": (12544, 204577), "validation": (2001, 25147), "test": (2077, 25094)}
  for split, (sentences, words) in expected.items():
    examples = list(builder.as_dataset(split=split).as_numpy_iterator())
    assert (len(examples), sum(len(e["words"]) for e in examples)) == (sentences, words), split
    assert all(len(e["words"]) == len(e["upos"]) == len(e["xpos"]) for e in examples)
  first = next(iter(builder.as_dataset(split="validation").as_numpy_iterator()))
  assert first["sent_id"] == b"weblog-blogspot.com_nominations_20041117172713_ENG_20041117_172713-0001"
  assert list(first["words"]) == [b"From", b"the", b"AP", b"comes", b"this", b"story", b":"]
  assert list(first["upos"]) == [b"ADP", b"DET", b"PROPN", b"VERB", b"DET", b"NOUN", b"PUNCT"]
  assert list(first["xpos"]) == [b"IN", b"DT", b"NNP", b"VBZ", b"DT", b"NN", b":"]


# -- conlleval ---------------------------------------------------------------------------------------

def _chunks(gold, predicted, scheme=None):
  counts = conlleval.evaluate([gold], [predicted], scheme).overall
  return counts.gold, counts.predicted, counts.correct


def test_the_reference_output_example_is_reproduced():
  # The excerpt on https://www.clips.uantwerpen.be/conll2000/chunking/output.html (its IOB1-style guesses);
  # the expected text is what conlleval.pl 2004-01-26 prints for it.
  gold = [["B-NP", "B-NP", "I-NP", "I-NP", "O"], ["B-NP", "B-VP", "B-NP", "I-NP"]]
  guessed = [["I-NP", "B-NP", "I-NP", "I-NP", "O"], ["I-NP", "B-VP", "B-NP", "I-NP"]]
  assert conlleval.report(conlleval.evaluate(gold, guessed)) == (
      "processed 9 tokens with 5 phrases; found: 5 phrases; correct: 5.\n"
      "accuracy:  77.78%; precision: 100.00%; recall: 100.00%; FB1: 100.00\n"
      "               NP: precision: 100.00%; recall: 100.00%; FB1: 100.00  4\n"
      "               VP: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n")


def test_iob1_chunks_start_at_i_after_o_or_another_type_and_at_b_between_same_type_chunks():
  iob1 = ["I-X", "I-X", "B-X", "I-X", "O", "I-X", "I-Y", "B-Y"]   # chunks: 0-1 X, 2-3 X, 5 X, 6 Y, 7 Y
  assert _chunks(iob1, iob1) == (5, 5, 5)
  assert _chunks(iob1, ["I-X", "I-X", "I-X", "I-X", "O", "I-X", "I-Y", "I-Y"]) == (5, 3, 1)   # only 5 X
  assert _chunks(["B-X", "I-Y", "I-Y"], ["B-X", "I-X", "I-Y"]) == (2, 2, 0)   # a type change starts a chunk
  assert _chunks(["O", "I-X", "O"], ["B-X", "I-X", "O"]) == (1, 1, 0)          # same end, other start


def test_chunks_end_at_each_sentence_end():
  evaluation = conlleval.evaluate([["O", "B-X", "I-X"], ["I-X", "I-X"]], [["O", "B-X", "I-X"], ["I-X", "O"]])
  assert (evaluation.overall.gold, evaluation.overall.predicted, evaluation.overall.correct) == (2, 2, 1)
  assert (evaluation.tokens, evaluation.correct_tags) == (5, 4)


def test_precision_recall_f1_overall_and_per_type_and_an_empty_prediction():
  evaluation = conlleval.evaluate([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-ORG"]])
  assert evaluation.overall == conlleval.ChunkCounts(gold=2, predicted=2, correct=1)
  assert (evaluation.overall.precision, evaluation.overall.recall, evaluation.overall.f1) == (0.5, 0.5, 0.5)
  assert list(evaluation.per_type) == ["LOC", "ORG", "PER"]
  assert evaluation.per_type["LOC"] == conlleval.ChunkCounts(1, 0, 0)
  assert evaluation.per_type["PER"].f1 == 1.0 and evaluation.per_type["ORG"].precision == 0.0
  assert evaluation.accuracy == 0.75
  nothing = conlleval.evaluate([["B-PER", "O"], ["B-LOC"]], [["O", "O"], ["O"]])
  assert nothing.overall == conlleval.ChunkCounts(2, 0, 0)
  assert (nothing.overall.precision, nothing.overall.recall, nothing.overall.f1) == (0.0, 0.0, 0.0)
  assert conlleval.report(nothing).splitlines()[1] == ("accuracy:  33.33%; precision:   0.00%; recall:   0.00%; "
                                                       "FB1:   0.00")
  assert conlleval.evaluate([], []).overall == conlleval.ChunkCounts(0, 0, 0)
  with pytest.raises(ValueError, match="same number of sentences"):
    conlleval.evaluate([["O"]], [["O", "O"]])


def test_iobes_is_read_as_iob2_where_the_reference_alone_would_merge_chunks():
  gold = ["B-MISC", "E-MISC", "B-MISC", "E-MISC", "S-X", "S-X"]   # North African | Grand Prix | a | b
  assert _chunks(gold, gold) == (4, 4, 4)
  assert _chunks(gold, gold, scheme="ioe") == (2, 2, 2)   # the reference's own rules: E- B- and S- S- go on
  assert _chunks(gold, ["B-MISC", "I-MISC", "E-MISC", "O", "S-X", "B-X"]) == (4, 3, 2)
  assert conlleval.iobes_to_iob2(["S-X", "E-X-Y", "B-X", "I-X", "O", "S"]) == ["B-X", "I-X-Y", "B-X", "I-X", "O",
                                                                               "B"]
  with pytest.raises(ValueError, match="unknown chunk scheme 'bilou'"):
    conlleval.evaluate([gold], [gold], scheme="bilou")


@pytest.mark.parametrize("tags, scheme", [
    (["O", "B-PER", "I-PER", "B-LOC"], "iob"),
    (["I-NP", "O", "B-NP"], "iob"),
    (["B", "I", "O"], "iob"),
    (["I-X", "E-X", "O"], "ioe"),
    (["B-X", "I-X", "E-X", "S-X", "O"], "iobes"),
    (["B-X", "E-X", "O"], "iobes"),
    (["B-X", "I-X", "L-X", "U-X", "O"], None),   # BILOU: the reference has no rules for L- and U-
    (["NOUN", "VERB", "PUNCT", "X"], None),
    (["-LRB-", "NN", "IN"], None),
    (["O"], None),
])
def test_chunk_scheme_tells_which_tag_sets_have_chunks(tags, scheme):
  assert conlleval.chunk_scheme(tags) == scheme
  assert conlleval.is_chunk_tagging(tags) == (scheme is not None)


def test_tags_split_and_print_as_the_reference_splits_and_prints_them():
  assert conlleval.split_tag("B-PER") == ("B", "PER")
  assert conlleval.split_tag("I-ORG-GOV") == ("I", "ORG-GOV")   # types may hold dashes (the 2004 change)
  assert conlleval.split_tag("B-0") == ("B", "")                # Perl reads the type "0" as false
  assert conlleval.split_tag("NN") == ("NN", "")
  # Untyped chunks: the reference's de-duplication of type names lets the empty type through twice.
  assert conlleval.report(conlleval.evaluate([["B"]], [["I"]])) == (
      "processed 1 tokens with 1 phrases; found: 1 phrases; correct: 1.\n"
      "accuracy:   0.00%; precision: 100.00%; recall: 100.00%; FB1: 100.00\n"
      + "                 : precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n" * 2)
