import dataclasses

import pytest

import models
import tasks
from common.errors import UserError

# name: (cell, bidirectional, layers, attention)
PRESETS = {
    "rnn": ("rnn", False, 1, "none"), "lstm": ("lstm", False, 1, "none"), "gru": ("gru", False, 1, "none"),
    "birnn": ("rnn", True, 1, "none"), "bilstm": ("lstm", True, 1, "none"), "bigru": ("gru", True, 1, "none"),
    "stacked_rnn": ("rnn", False, 2, "none"), "stacked_lstm": ("lstm", False, 2, "none"),
    "stacked_gru": ("gru", False, 2, "none"), "stacked_birnn": ("rnn", True, 2, "none"),
    "stacked_bilstm": ("lstm", True, 2, "none"), "stacked_bigru": ("gru", True, 2, "none"),
    "rnn_attention": ("rnn", False, 1, "additive"), "lstm_attention": ("lstm", False, 1, "additive"),
    "gru_attention": ("gru", False, 1, "additive"), "birnn_attention": ("rnn", True, 1, "additive"),
    "bilstm_attention": ("lstm", True, 1, "additive"), "bigru_attention": ("gru", True, 1, "additive"),
}


def test_the_registry_holds_exactly_the_documented_presets_with_their_shapes():
  assert models.names() == sorted([*PRESETS, "naive", "linear", "segrnn"])
  for name, shape in PRESETS.items():
    spec = models.get(name)
    assert (spec.cell, spec.bidirectional, spec.layers, spec.attention) == shape, name
    assert spec.recurrent
  assert not models.get("naive").recurrent and not models.get("linear").recurrent
  assert models.get("segrnn").made_for == "forecast" and models.get("segrnn").cell == "gru"


def test_every_preset_is_defined_by_a_literal_line_a_grep_finds():
  import pathlib
  source = (pathlib.Path(models.__file__).parent / "registry.py").read_text()
  for name in models.names():
    assert f'register("{name}"' in source, name


def test_unknown_model_names_the_choices():
  with pytest.raises(UserError, match=r"--model=lsmt is not a known model; choose one of: .*bilstm"):
    models.get("lsmt")


def test_unknown_task_names_the_choices():
  with pytest.raises(UserError, match=r"--task=imdb .*mnist, sentiment"):
    tasks.get("imdb")


def test_registering_a_name_twice_fails():
  with pytest.raises(ValueError, match="twice"):
    models.register("lstm", cell="lstm")


@pytest.mark.parametrize("field,value,message", [
    ("units", 0, "--units=0 is invalid; it must be >= 1."), ("layers", -1, "--layers=-1 is invalid"),
    ("units", 2.5, "--units=2.5 is invalid; it must be a whole number >= 1."),
    ("dropout", 1.0, r"--dropout=1.0 is invalid; it must be in \[0, 1\)."),
    ("pooling", "median", "--pooling=median is unknown; choose one of: last, max, mean, max_mean, attention."),
    ("embedding_dim", 0, "--embedding_dim=0")])
def test_bad_model_values_are_named(field, value, message):
  with pytest.raises(UserError, match=message):
    dataclasses.replace(models.get("lstm"), **{field: value}).validate()
