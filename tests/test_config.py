import pytest

import models
from engine import config
from common.errors import UserError


def test_precedence_flag_over_task_default_over_preset():
  resolved = config.resolve("sentiment", "stacked_bilstm", overrides={"units": 32, "epochs": None})
  assert resolved.model.units == 32                     # explicit flag
  assert resolved.model.pooling == "max_mean"           # sentiment's tuned default
  assert resolved.model.layers == 2                     # the preset
  assert resolved.training.clipnorm == config.TRAINING_SETTINGS["clipnorm"].default
  assert resolved.topology == "many_to_one"


def test_impossible_task_topology_pair_names_what_works():
  with pytest.raises(UserError, match=r"--task=mnist cannot be trained as --topology=many_to_many; it supports: "
                     r"many_to_one"):
    config.resolve("mnist", "lstm", "many_to_many")


def test_unknown_topology_names_the_choices():
  with pytest.raises(UserError, match="--topology=tree is unknown; choose one of: many_to_one, many_to_many"):
    config.resolve("mnist", "lstm", "tree")


@pytest.mark.parametrize("flag,value", [("epochs", 0), ("batch_size", 0), ("learning_rate", -1.0),
                                        ("clipnorm", -1.0), ("patience", -2), ("lr_decay", 1.5),
                                        ("ema_momentum", 1.0)])
def test_bad_training_values_are_named(flag, value):
  with pytest.raises(UserError, match=f"--{flag}={value} is invalid"):
    config.resolve("mnist", "lstm", overrides={flag: value})


def test_config_json_round_trip_and_diff():
  a = config.resolve("mnist", "gru")
  assert config.RunConfig.from_json(a.to_json()) == a
  b = config.resolve("mnist", "gru", overrides={"units": 7, "epochs": 99})
  assert config.differing_fields(a.to_json(), b.to_json()) == ["model.units: 128 -> 7"]


def test_a_config_saved_before_a_setting_existed_reads_as_that_settings_default():
  current = config.resolve("forecast", "segrnn")
  saved = current.to_json()
  del saved["options"]["weight_init"], saved["training"]["lr_hold_epochs"]   # both added after runs were saved
  assert config.RunConfig.from_json(saved) == current
  torch_init = config.resolve("forecast", "segrnn", options={"weight_init": "torch"})
  assert config.differing_fields(config.RunConfig.from_json(saved).to_json(), torch_init.to_json()) == [
      "options.weight_init: 'keras' -> 'torch'"]


def test_every_preset_resolves_for_every_task_or_says_why_not():
  for task in ("sentiment", "mnist", "forecast"):
    for name in models.names():
      spec = models.get(name)
      if spec.attention != "none":
        with pytest.raises(UserError, match=f"--model={name} with attention=additive needs a decoder"):
          config.resolve(task, name)
        if task == "forecast":
          assert config.resolve(task, name, "seq2seq").model.name == name
      elif not spec.recurrent and task != "forecast":
        with pytest.raises(UserError, match=f"--model={name} is a forecasting baseline"):
          config.resolve(task, name)
      elif spec.made_for and spec.made_for != task:
        with pytest.raises(UserError, match=f"--model={name} is made for --task={spec.made_for}"):
          config.resolve(task, name)
      else:
        assert config.resolve(task, name).model.name == name
