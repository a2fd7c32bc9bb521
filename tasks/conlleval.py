"""Chunk (entity) precision, recall and F1 as the CoNLL shared tasks' `conlleval` script computes them.

A port of conlleval.pl, version 2004-01-26, by Erik Tjong Kim Sang (the CoNLL-2000 chunking / CoNLL-2003 NER
evaluation script, http://www.cnts.ua.ac.be/conll2000/chunking/conlleval.txt; output example:
https://www.clips.uantwerpen.be/conll2000/chunking/output.html). `_end_of_chunk`, `_start_of_chunk` and the loop
in `evaluate` follow the script's `endOfChunk`, `startOfChunk` and main loop rule for rule, so the counts are the
script's on a file holding each sentence's tokens followed by a blank line; `report` prints what the script prints.

What the reference does, and so what this does:

- A tag is `<prefix>-<type>` split at the first dash, or a bare prefix with type "" (and, as Perl's truth
  test turns it into "", the type "0"). `O` is outside any chunk.
- IOB1 (`I-` starts a chunk after `O` or after another type; `B-` only between two chunks of the same type) and
  IOB2/BIO (every chunk starts with `B-`) are read by the same rules, as are IOE1/IOE2 (`E-` ends a chunk) and the
  bracket tags `[`, `]`. A change of type inside `I-` tags starts a new chunk. Tag sequences that no scheme allows
  (`O I-X`, `B-X I-Y`) are read leniently, never refused.
- A chunk counts as correct only when gold and prediction start it at the same token with the same type and end it
  at the same token.

What the reference does not do: it has no rules for IOBES's `S-` (single-token chunk), nor for `E-` followed by
`B-`, so it reads the valid IOBES sequences `S-X S-X` and `E-X B-X` as one chunk each; BILOU's `L-`/`U-` it knows
not at all. IOBES tags are therefore converted to IOB2 first (`S-` -> `B-`, `E-` -> `I-`), as IOBES taggers do
before calling conlleval.pl (e.g. Lample et al. 2016, "Neural Architectures for Named Entity Recognition",
github.com/glample/tagger, `iobes_iob`); on valid IOBES this keeps every chunk. `chunk_scheme` tells a task whether
its tags are IOB, IOE or IOBES at all (BILOU and part-of-speech tags are not), so F1 is reported only then.

    result = evaluate([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])
    result.overall.f1, result.per_type["PER"].recall, result.accuracy      # 0.0, 0.0, 0.666...
    print(report(result))                                                 # conlleval.pl's text
"""

import dataclasses

SCHEMES = ("iob", "ioe", "iobes")   # iob: IOB1 and IOB2 (BIO) alike; ioe: IOE1 and IOE2; iobes: BIOES
_SCHEME_PREFIXES = {"iob": {"B", "I"}, "ioe": {"I", "E"}, "iobes": {"B", "I", "E", "S"}}
_IOBES_TO_IOB2 = {"S": "B", "E": "I"}


def split_tag(tag):
  """(prefix, type) of a tag as the reference splits it: /^([^-]*)-(.*)$/, else (tag, "")."""
  prefix, dash, type_ = tag.partition("-")
  if not dash:
    return tag, ""
  return prefix, "" if type_ == "0" else type_   # Perl's `$type ? $type : ""` makes the type "0" false


def _end_of_chunk(prev_tag, tag, prev_type, type_):
  """Whether a chunk ended between the previous token and this one (the reference's endOfChunk)."""
  return ((prev_tag, tag) in {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O")}
          or (prev_tag not in ("O", ".") and prev_type != type_)
          or prev_tag in ("[", "]"))   # the reference's bracket chunks are one token long


def _start_of_chunk(prev_tag, tag, prev_type, type_):
  """Whether a chunk started between the previous token and this one (the reference's startOfChunk)."""
  return ((prev_tag, tag) in {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E")}
          or (tag not in ("O", ".") and prev_type != type_)
          or tag in ("[", "]"))


def chunk_scheme(tags):
  """The chunk scheme of a tag set: "iob", "ioe" or "iobes" when every tag is `O` or a B/I/E/S prefix (typed
  `B-PER` or bare `B`) of that scheme and at least one is not `O`; None otherwise (part-of-speech tags, BILOU,
  only `O`)."""
  prefixes = set()
  for tag in set(tags):
    if tag != "O":
      prefixes.add(split_tag(tag)[0])
  for scheme in SCHEMES:   # smallest first: {B, I} is IOB even though IOBES allows it too
    if prefixes and prefixes <= _SCHEME_PREFIXES[scheme]:
      return scheme
  return None


def is_chunk_tagging(tags):
  """Whether chunk F1 means anything for this tag set (see chunk_scheme)."""
  return chunk_scheme(tags) is not None


def iobes_to_iob2(tags):
  """IOBES tags as IOB2: `S-X` -> `B-X`, `E-X` -> `I-X` (other tags unchanged)."""
  converted = []
  for tag in tags:
    prefix, dash, type_ = tag.partition("-")
    converted.append(_IOBES_TO_IOB2.get(prefix, prefix) + dash + type_)
  return converted


@dataclasses.dataclass(frozen=True)
class ChunkCounts:
  """Chunks in the gold tags, in the predicted tags, and predicted exactly (start, end and type)."""
  gold: int
  predicted: int
  correct: int

  @property
  def precision(self):
    return self.correct / self.predicted if self.predicted else 0.0

  @property
  def recall(self):
    return self.correct / self.gold if self.gold else 0.0

  @property
  def f1(self):
    total = self.precision + self.recall
    return 2 * self.precision * self.recall / total if total > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class Evaluation:
  """conlleval's numbers: chunk counts overall and per chunk type, and tokens with the right tag."""
  tokens: int
  correct_tags: int
  overall: ChunkCounts
  per_type: dict   # chunk type -> ChunkCounts, for every type in the gold or predicted chunks, sorted

  @property
  def accuracy(self):
    return self.correct_tags / self.tokens if self.tokens else 0.0


def evaluate(gold, predicted, scheme=None):
  """conlleval's Evaluation of `predicted` against `gold`: sentences (sequences of tag strings), in pairs of equal
  length. With `scheme` "iobes" both are first read as IOB2. A task passes the scheme of its whole tag set;
  None detects it from these tags alone (chunk_scheme), which a small split may not show in full."""
  gold, predicted = [list(s) for s in gold], [list(s) for s in predicted]
  if len(gold) != len(predicted) or any(len(g) != len(p) for g, p in zip(gold, predicted)):
    raise ValueError("gold and predicted must hold the same number of sentences, each of the same length")
  if scheme is None:
    scheme = chunk_scheme([tag for sentence in gold + predicted for tag in sentence])
  elif scheme not in SCHEMES:
    raise ValueError(f"unknown chunk scheme {scheme!r}; expected one of {', '.join(SCHEMES)} or None (detect)")
  if scheme == "iobes":
    gold, predicted = [iobes_to_iob2(s) for s in gold], [iobes_to_iob2(s) for s in predicted]

  found_gold, found_predicted, correct_chunks = {}, {}, {}
  tokens = correct_tags = 0
  in_correct = False   # the chunk being read matches so far (same start and type in gold and prediction)
  last_gold, last_gold_type, last_guessed, last_guessed_type = "O", "", "O", ""

  def pairs():
    for gold_tags, guessed_tags in zip(gold, predicted):
      yield from zip(gold_tags, guessed_tags, [False] * len(gold_tags))
      yield "O", "O", True   # the blank line after each sentence: outside any chunk, and no token

  for gold_tag, guessed_tag, boundary in pairs():
    correct, correct_type = split_tag(gold_tag)
    guessed, guessed_type = split_tag(guessed_tag)
    gold_ended = _end_of_chunk(last_gold, correct, last_gold_type, correct_type)
    guess_ended = _end_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
    if in_correct:
      if gold_ended and guess_ended and last_guessed_type == last_gold_type:
        in_correct = False
        correct_chunks[last_gold_type] = correct_chunks.get(last_gold_type, 0) + 1
      elif gold_ended != guess_ended or guessed_type != correct_type:
        in_correct = False
    gold_started = _start_of_chunk(last_gold, correct, last_gold_type, correct_type)
    guess_started = _start_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
    if gold_started and guess_started and guessed_type == correct_type:
      in_correct = True
    if gold_started:
      found_gold[correct_type] = found_gold.get(correct_type, 0) + 1
    if guess_started:
      found_predicted[guessed_type] = found_predicted.get(guessed_type, 0) + 1
    if not boundary:
      correct_tags += correct == guessed and correct_type == guessed_type
      tokens += 1
    last_gold, last_gold_type, last_guessed, last_guessed_type = correct, correct_type, guessed, guessed_type
  if in_correct:   # only tags outside the rules (an untyped `S` after `B`) keep a chunk open past a blank line
    correct_chunks[last_gold_type] = correct_chunks.get(last_gold_type, 0) + 1

  overall = ChunkCounts(sum(found_gold.values()), sum(found_predicted.values()), sum(correct_chunks.values()))
  per_type = {t: ChunkCounts(found_gold.get(t, 0), found_predicted.get(t, 0), correct_chunks.get(t, 0))
              for t in sorted(set(found_gold) | set(found_predicted))}
  return Evaluation(tokens, correct_tags, overall, per_type)


def _scores(counts):
  """Precision, recall and FB1 in percent, computed in the reference's order (so its rounding prints the same)."""
  precision = 100 * counts.correct / counts.predicted if counts.predicted else 0.0
  recall = 100 * counts.correct / counts.gold if counts.gold else 0.0
  fb1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
  return precision, recall, fb1


def report(evaluation):
  """The text conlleval.pl prints for this evaluation (without -l)."""
  overall = evaluation.overall
  lines = [f"processed {evaluation.tokens} tokens with {overall.gold} phrases; found: {overall.predicted} "
           f"phrases; correct: {overall.correct}.\n"]
  if evaluation.tokens > 0:
    precision, recall, fb1 = _scores(overall)
    lines.append(f"accuracy: {100 * evaluation.correct_tags / evaluation.tokens:6.2f}%; precision: {precision:6.2f}%; "
                 f"recall: {recall:6.2f}%; FB1: {fb1:6.2f}\n")
  # The reference drops repeated types from the sorted keys of both count tables with
  # `not($lastType) or $lastType ne $i`, which lets the empty type through twice when both tables hold it.
  names, last = [], None
  for name in sorted([t for t, c in evaluation.per_type.items() if c.gold]
                     + [t for t, c in evaluation.per_type.items() if c.predicted]):
    if not last or last != name:
      names.append(name)
    last = name
  for name in names:
    counts = evaluation.per_type[name]
    precision, recall, fb1 = _scores(counts)
    lines.append(f"{name:>17}: precision: {precision:6.2f}%; recall: {recall:6.2f}%; FB1: {fb1:6.2f}  "
                 f"{counts.predicted}\n")
  return "".join(lines)
