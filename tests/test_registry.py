import dataclasses

import pytest

import models
import tasks
from common.errors import UserError

PRESETS = ["rnn", "lstm", "gru", "birnn", "bilstm", "bigru", "stacked_rnn", "stacked_lstm", "stacked_gru",
           "stacked_birnn", "stacked_bilstm", "stacked_bigru"]


def test_every_issue_preset_is_registered_with_its_shape():
  for name in PRESETS:
    spec = models.get(name)
    assert spec.cell in name and spec.bidirectional == ("bi" in name)
    assert spec.layers == (2 if name.startswith("stacked") else 1)


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
    ("units", 0, "--units=0 is invalid"), ("layers", -1, "--layers=-1"), ("dropout", 1.0, "--dropout=1.0"),
    ("pooling", "median", "--pooling=median is unknown"), ("embedding_dim", 0, "--embedding_dim=0")])
def test_bad_model_values_are_named(field, value, message):
  with pytest.raises(UserError, match=message):
    dataclasses.replace(models.get("lstm"), **{field: value}).validate()
