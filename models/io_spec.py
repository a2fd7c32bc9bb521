"""IOSpec: what a task puts into a model and wants out of it; the one thing a topology builder reads of a task."""

import dataclasses

from models.forecaster import WindowSpec


@dataclasses.dataclass(frozen=True)
class IOSpec:
  """The task side of the task <-> model seam."""

  input_kind: str              # "tokens": int ids, 0 = padding | "features": float32 per step
  input_size: int              # vocabulary size, or features per step
  output_size: int             # classes (per step for many_to_many)
  input_name: str = "inputs"   # the model's Input name
  sequence_length: int | None = None  # None: variable length
  stateful_batch: int | None = None   # carry recurrent state across batches of exactly this size (truncated BPTT)
  condition_classes: int | None = None  # one_to_many: how many labels the "one" input can take
  input_dropout: bool = True  # whether --dropout also drops inputs (whole tokens, or features)
  decoder_vocab: int | None = None   # seq2seq: ids the decoder reads (0 = padding)
  decoder_length: int | None = None  # seq2seq: decoder steps (None: variable)
  window: WindowSpec | None = None   # forecasting: the model maps windows to forecasts (models/forecaster.py)
  char_vocab: int | None = None      # token inputs that are words: character ids a model may read of each word
                                     # (input "char_ids" [batch, words, chars], 0 = padding), with --char_units
  # many_to_many over a large vocabulary (language models): the model also takes the ids to predict ("next_ids"
  # [batch, steps]) and outputs their log-probabilities [batch, steps] (models/sampled_softmax.py), estimated in
  # training from this many sampled candidates (0: exact).
  sampled_softmax: int | None = None
