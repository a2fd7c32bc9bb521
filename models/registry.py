"""Named model presets: how to recur, independent of any task.

A preset is a `ModelSpec`; flags and a task's tuned defaults override its setting fields (see
engine/config.py for the precedence). Adding a preset is one `register` call below, e.g.

    register("bigru", cell="gru", bidirectional=True)
"""

import dataclasses

from common.errors import UserError
from common.settings import setting, validate

CELLS = ("rnn", "lstm", "gru")
KINDS = ("recurrent", "naive", "linear")   # naive and linear: the forecasting baselines every RNN is compared with
ATTENTIONS = ("none", "additive", "multiplicative")
POOLINGS = ("last", "max", "mean", "max_mean", "attention")
EMBEDDING_DROPOUTS = ("word", "word_type", "channel", "unknown")
HEADS = ("softmax", "crf")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """Everything that decides the shape of a model. The fields declared with `setting` are flags of train.py."""

  name: str
  cell: str = "lstm"            # rnn | lstm | gru
  bidirectional: bool = False
  layers: int = setting(1, "Recurrent layers.", at_least=1)
  units: int = setting(128, "Units per recurrent layer (and per direction).", at_least=1)
  dropout: float = setting(0.0, "Dropout on embeddings, between recurrent layers and before the head.",
                           at_least=0, below=1)
  embedding_dim: int = setting(128, "Token embedding size (token inputs only).", at_least=1)
  pooling: str = setting("last", "many_to_one: how the sequence becomes one vector (max, mean and max_mean are "
                                 "masked: padding never wins).", choices=POOLINGS)
  embedding_dropout: str = setting("word", "What --dropout drops of token embeddings: word (whole tokens), "
                                           "word_type (every occurrence of a word in a sequence at once), channel "
                                           "(the same embedding channels at every step) or unknown (tokens read as "
                                           "the unknown token, so the model learns what to do with one).",
                                   choices=EMBEDDING_DROPOUTS)
  attention: str = setting("none", "seq2seq: how the decoder attends to the encoder (additive: Bahdanau; "
                                   "multiplicative: Luong's general score).", choices=ATTENTIONS)
  tie_embeddings: bool = setting(False, "seq2seq over tokens: the head scores each target token by the decoder's "
                                        "embedding of it (a linear projection to --embedding_dim, then the embedding "
                                        "matrix; Press & Wolf 2017).")
  head: str = setting("softmax", "many_to_many: the output layer: softmax (a label per step, on its own) or crf (a "
                                 "linear-chain CRF: scores of label transitions, Viterbi decoding).", choices=HEADS)
  char_units: int = setting(0, "Words read with their characters (tagging): units per direction of a character "
                               "BiLSTM over each word, its final states joined to the word's embedding.", at_least=0,
                            note="0: words only")
  kind: str = "recurrent"       # naive | linear: a forecasting baseline without a recurrent core (models/baselines.py)
  # The preset's own training recipe (a baseline run as its authors run it): it beats a task's tuned defaults,
  # flags beat it. Not part of the model's shape, so not compared and not written to config.json.
  recipe: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)
  # The one task a preset was made for (a published model for one problem, e.g. SegRNN for forecasting), "" for
  # any; metadata like the recipe, so not compared and not written to config.json.
  made_for: str = dataclasses.field(default="", compare=False, repr=False)

  @property
  def recurrent(self):
    """Whether the model has a recurrent core (the baselines have none)."""
    return self.kind == "recurrent"

  def validate(self):
    """Raises UserError naming the first impossible field."""
    if self.cell not in CELLS:
      raise UserError(f"cell={self.cell!r} is unknown; choose one of {', '.join(CELLS)}.")
    if self.kind not in KINDS:
      raise ValueError(f"kind={self.kind!r} is unknown; choose one of {', '.join(KINDS)}")
    return validate(self)


_PRESETS: dict[str, ModelSpec] = {}


def register(name: str, **fields) -> ModelSpec:
  """Adds a preset; fields not given keep ModelSpec's defaults."""
  if name in _PRESETS:
    raise ValueError(f"model preset {name!r} is registered twice")
  _PRESETS[name] = ModelSpec(name=name, **fields).validate()
  return _PRESETS[name]


# Every cell, uni- or bidirectional, one layer or stacked (2 unless --layers says otherwise).
register("rnn", cell="rnn")
register("lstm", cell="lstm")
register("gru", cell="gru")
register("birnn", cell="rnn", bidirectional=True)
register("bilstm", cell="lstm", bidirectional=True)
register("bigru", cell="gru", bidirectional=True)
register("stacked_rnn", cell="rnn", layers=2)
register("stacked_lstm", cell="lstm", layers=2)
register("stacked_gru", cell="gru", layers=2)
register("stacked_birnn", cell="rnn", bidirectional=True, layers=2)
register("stacked_bilstm", cell="lstm", bidirectional=True, layers=2)
register("stacked_bigru", cell="gru", bidirectional=True, layers=2)

# Encoder-decoders whose decoder attends to the encoder's outputs (seq2seq).
register("rnn_attention", cell="rnn", attention="additive")
register("lstm_attention", cell="lstm", attention="additive")
register("gru_attention", cell="gru", attention="additive")
register("birnn_attention", cell="rnn", bidirectional=True, attention="additive")
register("bilstm_attention", cell="lstm", bidirectional=True, attention="additive")
register("bigru_attention", cell="gru", bidirectional=True, attention="additive")

# Forecasting baselines (models/baselines.py): repeat the last value; DLinear's linear map over the window, read
# unnormalised and trained as DLinear's ETT scripts train it (the learning rate halves every epoch; the batch size
# and learning rate of each series are the forecast task's, tasks/forecast.py).
register("naive", kind="naive", recipe={"epochs": 1})
register("linear", kind="linear", recipe={"window_norm": "none", "lr_decay": 0.5, "epochs": 10, "patience": 3})

# SegRNN (Lin et al. 2023): a GRU over 720-step windows read in embedded segments, the horizon decoded in parallel
# from its final state (PMF), trained as its authors' ETT scripts train it; the settings those scripts vary by
# series (segment length, dropout, batch size, channel embedding) are the forecast task's (tasks/forecast.py).
# Its schedule is also the one the forecast task gives the other recurrent presets (tasks/forecast.py).
SEGRNN_SCHEDULE = {"learning_rate": 3e-4, "epochs": 30, "patience": 5}
register("segrnn", cell="gru", made_for="forecast",
         recipe={"input_length": 720, "decoder": "pmf", "embed_segments": True, "units": 512} | SEGRNN_SCHEDULE)


def names() -> list[str]:
  return sorted(_PRESETS)


def get(name: str) -> ModelSpec:
  try:
    return _PRESETS[name]
  except KeyError:
    raise UserError(f"--model={name} is not a known model; choose one of: {', '.join(names())}.") from None
