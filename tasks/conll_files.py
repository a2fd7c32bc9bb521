"""A user's tagged corpus, one token per line: sentences as (words, tags) lists, with line-numbered errors.

Two formats:

- CoNLL-U (https://universaldependencies.org/format.html): 10 tab-separated columns ID FORM LEMMA UPOS XPOS
  FEATS HEAD DEPREL DEPS MISC, `#` comment lines before each sentence, a blank line after it. Multiword-token
  lines (ID `1-2`) and empty nodes (ID `1.1`) are not syntactic words and are skipped; the words are the FORM
  column of the rest, the tags UPOS (column 4) or XPOS (column 5).
- The CoNLL column format of the CoNLL-2000 chunking and CoNLL-2003 NER shared tasks
  (https://www.clips.uantwerpen.be/conll2003/ner/): one token per line, columns separated by spaces or tabs, a blank
  line between sentences, `-DOCSTART-` lines between documents. Which column is the word and which the tag is
  the caller's choice (0-based; negative counts from the end).

    format = detect_format(text)                            # "conllu" or "columns"
    sentences = read(path, scheme="xpos")                   # [(["From", "the", ...], ["IN", "DT", ...]), ...]
    train, validation, test = read_data_files("a.txt,b.txt,c.txt", tag_column=3)
"""

import os
import re
from typing import NamedTuple

from common.errors import UserError
from common.files import read_data_file

FORMATS = ("conllu", "columns")
SCHEMES = {"upos": 3, "xpos": 4}   # CoNLL-U tag scheme -> its 0-based column
CONLLU_COLUMNS = 10
DOCSTART = "-DOCSTART-"

_WORD_ID = re.compile(r"[1-9][0-9]*")
_SKIPPED_ID = re.compile(r"[0-9]+(-[0-9]+|\.[0-9]+)")   # a multiword-token range or an empty node
# Only ASCII spaces and tabs separate columns: str.split() would also cut a word at a no-break space
# (French "10 000") or an ideographic space, which some corpora keep inside tokens.
_COLUMN_SEPARATOR = re.compile(r"[ \t]+")


class ConlluSentence(NamedTuple):
  """One CoNLL-U sentence's syntactic words; `lines` holds the 1-based line number of each word."""
  sent_id: str   # the `# sent_id = ...` comment, "" when there is none
  words: list
  upos: list
  xpos: list
  lines: list


def _lines(text):
  # Newlines only: str.splitlines() also breaks at \x0c, \x85 or \u2028, which may sit inside a token.
  return text.removeprefix("\ufeff").split("\n")


def _blank(line):
  return not line.strip(" \t")


def _blocks(text, is_boundary=_blank):
  """The runs of (1-based line number, line) between boundary lines: one sentence each."""
  block = []
  for number, line in enumerate(_lines(text), start=1):
    if is_boundary(line):
      if block:
        yield block
      block = []
    else:
      block.append((number, line))
  if block:
    yield block


def detect_format(text):
  """The format of `text`: "conllu" when its first non-blank line is a `#` comment or a 10-column tab-separated
  line with a CoNLL-U ID (1, 1-2, 1.1) first, "columns" otherwise."""
  for line in _lines(text):
    if _blank(line):
      continue
    if line.startswith("#"):
      return "conllu"
    fields = line.split("\t")
    is_id = _WORD_ID.fullmatch(fields[0]) or _SKIPPED_ID.fullmatch(fields[0])
    return "conllu" if len(fields) == CONLLU_COLUMNS and is_id else "columns"
  return "columns"


def _conllu_sentence(block, source):
  sent_id, words, upos, xpos, numbers = "", [], [], [], []
  for number, line in block:
    if line.startswith("#"):
      key, equals, value = line[1:].partition("=")
      if equals and key.strip() == "sent_id":
        sent_id = value.strip()
      continue
    fields = line.split("\t")
    where = f"{source}, line {number}"
    if len(fields) != CONLLU_COLUMNS:
      raise UserError(f"{where}: expected {CONLLU_COLUMNS} tab-separated columns (CoNLL-U: ID FORM LEMMA UPOS XPOS "
                      f"FEATS HEAD DEPREL DEPS MISC), found {len(fields)} in {line[:80]!r}. (A file in the CoNLL "
                      "column format that starts with '#' comments needs that format given explicitly.)")
    if _SKIPPED_ID.fullmatch(fields[0]):
      continue
    if not _WORD_ID.fullmatch(fields[0]):
      raise UserError(f"{where}: the ID {fields[0]!r} is not a word number (1, 2, ...), a multiword-token range "
                      "(1-2) or an empty node (1.1).")
    if int(fields[0]) != len(words) + 1:
      raise UserError(f"{where}: word ID {fields[0]} where {len(words) + 1} was expected (IDs count 1, 2, ... within "
                      "a sentence, and a blank line ends each sentence).")
    for column, name in ((1, "FORM"), (3, "UPOS"), (4, "XPOS")):
      if not fields[column].strip():
        raise UserError(f"{where}: the {name} column (column {column + 1}) is empty; CoNLL-U writes '_' for "
                        "a missing value.")
    words.append(fields[1])
    upos.append(fields[3])
    xpos.append(fields[4])
    numbers.append(number)
  return ConlluSentence(sent_id, words, upos, xpos, numbers)


def parse_conllu(text, source):
  """[ConlluSentence] of CoNLL-U `text`; `source` names it in errors (e.g. "--data_file=x.conllu")."""
  sentences = [_conllu_sentence(block, source) for block in _blocks(text)]
  # Comments alone, or only multiword-token and empty-node lines, make no sentence.
  sentences = [sentence for sentence in sentences if sentence.words]
  if not sentences:
    raise UserError(f"{source} holds no sentence: expected CoNLL-U word lines (10 tab-separated columns, ID 1, 2, "
                    "...) with a blank line after each sentence.")
  return sentences


def conllu_tags(sentences, scheme, source):
  """(words, tags) of ConlluSentences, the tags of `scheme` ("upos" or "xpos"); a word without one is an error."""
  if scheme not in SCHEMES:
    raise UserError(f"The tag scheme {scheme!r} is unknown; CoNLL-U files are tagged with one of "
                    f"{', '.join(SCHEMES)}.")
  tagged = []
  for sentence in sentences:
    tags = getattr(sentence, scheme)
    for tag, number in zip(tags, sentence.lines):
      if tag == "_":   # '_' in FORM is an underscore token; in a tag column it means "not annotated"
        other = next(s for s in SCHEMES if s != scheme)
        raise UserError(f"{source}, line {number}: the word has no {scheme.upper()} tag ('_' in column "
                        f"{SCHEMES[scheme] + 1}); this corpus may not be annotated with {scheme.upper()}, try the "
                        f"{other} scheme.")
    tagged.append((list(sentence.words), list(tags)))
  return tagged


def _fields(line):
  return _COLUMN_SEPARATOR.split(line.strip(" \t"))


def _column_index(index, count, name, where):
  if not -count <= index < count:
    raise UserError(f"{where}: {name}={index} is beyond this line's {count} columns (valid: 0..{count - 1}, or "
                    f"-{count}..-1 counting from the end).")
  return index % count


def parse_columns(text, source, *, word_column=0, tag_column=-1):
  """[(words, tags)] of CoNLL column-format `text`; every token line must have as many columns as the first."""
  def is_boundary(line):   # a blank line, or a document start (the blank line after it then ends nothing)
    return _blank(line) or _fields(line)[0] == DOCSTART

  sentences = []
  count = word = tag = None    # columns per token line, set by the first one, and the two chosen
  for block in _blocks(text, is_boundary):
    words, tags = [], []
    for number, line in block:
      fields, where = _fields(line), f"{source}, line {number}"
      if count is None:
        count = len(fields)
        word = _column_index(word_column, count, "word_column", where)
        tag = _column_index(tag_column, count, "tag_column", where)
        if word == tag:
          raise UserError(f"{where}: word_column={word_column} and tag_column={tag_column} are the same column of "
                          f"these {count}-column lines; the tag needs a column of its own.")
      elif len(fields) != count:
        raise UserError(f"{where}: {len(fields)} columns where the first token line has {count} (a word with a "
                        f"space inside, or a missing column?): {line[:80]!r}.")
      words.append(fields[word])
      tags.append(fields[tag])
    sentences.append((words, tags))
  if not sentences:
    raise UserError(f"{source} holds no sentence: expected one token per line (word and tag columns separated by "
                    "white space) and a blank line between sentences.")
  return sentences


def parse(text, source, *, format="auto", scheme="upos", word_column=0, tag_column=-1):
  """[(words, tags)] of `text` in `format` ("auto", "conllu", "columns"); CoNLL-U reads `scheme`'s tags, the
  column format `word_column` and `tag_column`."""
  if format == "auto":
    format = detect_format(text)
  if format == "conllu":
    return conllu_tags(parse_conllu(text, source), scheme, source)
  if format == "columns":
    return parse_columns(text, source, word_column=word_column, tag_column=tag_column)
  raise UserError(f"The corpus format {format!r} is unknown; it must be one of auto, {', '.join(FORMATS)}.")


def read(path, *, format="auto", scheme="upos", word_column=0, tag_column=-1, encoding="utf-8"):
  """[(words, tags)] of the --data_file at `path` (see parse)."""
  return parse(read_data_file(path, encoding=encoding), f"--data_file={path}", format=format, scheme=scheme, word_column=word_column,
               tag_column=tag_column)


def split_data_file(value):
  """The paths in a --data_file value: (path,), split by the caller into shares, or (train, validation, test).

  A value that names an existing file is one path even if it holds commas.
  """
  if os.path.isfile(value):
    return (value,)
  paths = tuple(part.strip() for part in value.split(","))
  if len(paths) not in (1, 3) or not all(paths):
    raise UserError(f"--data_file={value} names {len(paths)} comma-separated paths"
                    + (" (one of them empty)" if not all(paths) else "")
                    + "; give one file (split into train, validation and test by shares) or three: "
                      "train,validation,test.")
  return paths


def read_data_files(value, *, format="auto", scheme="upos", word_column=0, tag_column=-1, encoding="utf-8"):
  """The sentences of each file in a --data_file value: [sentences] (one file) or [train, validation, test]."""
  return [read(path, format=format, scheme=scheme, word_column=word_column, tag_column=tag_column,
               encoding=encoding) for path in split_data_file(value)]
