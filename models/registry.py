"""Named model presets: how to recur, independent of any task.

A preset is a `ModelSpec`; flags and a task's tuned defaults override its fields
(see engine/config.py for the precedence). Adding a preset is one `register` call.
"""

import dataclasses

from common.errors import UserError

CELLS = ("rnn", "lstm", "gru")
KINDS = ("recurrent", "naive", "linear")   # naive and linear: the forecasting baselines every RNN is compared with
ATTENTIONS = ("none", "additive", "multiplicative")
POOLINGS = ("last", "max", "mean", "max_mean", "attention")
EMBEDDING_DROPOUTS = ("word", "word_type", "channel")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """Everything that decides the shape of a recurrent model."""

  name: str
  cell: str = "lstm"            # rnn | lstm | gru
  bidirectional: bool = False
  layers: int = 1
  units: int = 128
  dropout: float = 0.0          # between layers and before the head
  embedding_dim: int = 128      # token inputs only
  pooling: str = "last"         # many_to_one: how the sequence becomes one vector
  embedding_dropout: str = "word"  # what --dropout drops of token embeddings: tokens, word types, or channels
  attention: str = "none"       # seq2seq: how the decoder reads the encoder's outputs (Bahdanau / Luong scores)
  kind: str = "recurrent"       # naive | linear: a non-recurrent baseline (models/baselines.py)

  def validate(self):
    """Raises UserError naming the first impossible field."""
    if self.cell not in CELLS:
      raise UserError(f"cell={self.cell!r} is unknown; choose one of {', '.join(CELLS)}.")
    if self.pooling not in POOLINGS:
      raise UserError(f"--pooling={self.pooling} is unknown; choose one of {', '.join(POOLINGS)}.")
    if self.attention not in ATTENTIONS:
      raise UserError(f"--attention={self.attention} is unknown; choose one of {', '.join(ATTENTIONS)}.")
    if self.kind not in KINDS:
      raise ValueError(f"kind={self.kind!r} is unknown; choose one of {', '.join(KINDS)}")
    if self.embedding_dropout not in EMBEDDING_DROPOUTS:
      raise UserError(f"--embedding_dropout={self.embedding_dropout} is unknown; choose one of "
                      f"{', '.join(EMBEDDING_DROPOUTS)}.")
    for field in ("layers", "units", "embedding_dim"):
      value = getattr(self, field)
      if not isinstance(value, int) or value < 1:
        raise UserError(f"--{field}={value} is invalid; it must be a whole number >= 1.")
    if not 0.0 <= self.dropout < 1.0:
      raise UserError(f"--dropout={self.dropout} is invalid; it must be in [0, 1).")
    return self


_PRESETS: dict[str, ModelSpec] = {}


def register(name: str, **fields) -> ModelSpec:
  """Adds a preset; fields not given keep ModelSpec's defaults."""
  if name in _PRESETS:
    raise ValueError(f"model preset {name!r} is registered twice")
  _PRESETS[name] = ModelSpec(name=name, **fields).validate()
  return _PRESETS[name]


# The zoo: every cell, uni- or bidirectional, one layer or stacked (2 unless --layers says otherwise).
for _cell in CELLS:
  register(_cell, cell=_cell)
  register(f"bi{_cell}", cell=_cell, bidirectional=True)
  register(f"stacked_{_cell}", cell=_cell, layers=2)
  register(f"stacked_bi{_cell}", cell=_cell, bidirectional=True, layers=2)
  register(f"{_cell}_attention", cell=_cell, attention="additive")
  register(f"bi{_cell}_attention", cell=_cell, bidirectional=True, attention="additive")

# Forecasting baselines (models/baselines.py): repeat the last value; DLinear's linear map over the window.
register("naive", kind="naive")
register("linear", kind="linear")


def names() -> list[str]:
  return sorted(_PRESETS)


def get(name: str) -> ModelSpec:
  try:
    return _PRESETS[name]
  except KeyError:
    raise UserError(f"--model={name} is not a known model; choose one of: {', '.join(names())}.") from None
