"""A run's resolved settings, and the precedence that produces them.

Precedence for every hyperparameter: explicit flag > the preset's own recipe (a baseline run as its
authors run it) > the task's tuned defaults for that model > the preset's fields (model settings) or
TrainingSpec's defaults (training settings). Task options alike: flag > recipe > the task's tuned options for
the preset > the option's default. The result is written to the run directory as
config.json and into the export's assets.
"""

import dataclasses
import os

import models
import tasks
from common.errors import UserError
from common.files import read_json
from engine import transfer
from common.settings import setting, settings_of, validate
from tasks.base import DataConfig


@dataclasses.dataclass(frozen=True)
class TrainingSpec:
  """How a model is trained. Every field is a train.py flag (unset: the task's tuned default, else this default)."""

  epochs: int = setting(10, "Maximum training epochs.", at_least=1, resumable=True)
  batch_size: int = setting(64, "Examples per training step.", at_least=1)
  learning_rate: float = setting(1e-3, "Adam's learning rate.", above=0)
  lr_decay: float = setting(1.0, "Multiply the learning rate by this after every epoch.", above=0, at_most=1,
                            note="1: constant")
  lr_hold_epochs: int = setting(0, "Start --lr_decay this many epochs later: the first 1 + this many epochs train at "
                                   "--learning_rate (SegRNN's lradj=type3: 3, with --lr_decay=0.8).", at_least=0)
  clipnorm: float = setting(5.0, "Clip the global gradient norm to this; guards against exploding gradients.",
                            at_least=0, note="0: off")
  patience: int = setting(3, "Stop after this many epochs without validation improvement.", at_least=0,
                          note="0: never")
  seed: int = setting(0, "Seed for weights, dropout and shuffling.")
  ema_momentum: float = setting(0.0, "Validate, keep and export an exponential moving average of the weights with "
                                     "this momentum (e.g. 0.999); averaging smooths out the last steps' noise.",
                                at_least=0, below=1, note="0: off")
  checkpoint_every_steps: int = setting(0, "Also checkpoint every this many training steps, so a killed run redoes "
                                           "at most that many.", at_least=0, resumable=True,
                                        note="0: at each epoch's end and every 5 minutes")
  deterministic: bool = setting(False, "Deterministic ops (tf.config.experimental.enable_op_determinism): the same "
                                       "command gives the same figures, at some cost in speed.")
  mixed_precision: bool = setting(False, "float16 compute, float32 weights (NVIDIA GPUs with compute capability "
                                         ">= 7.0; refused elsewhere).")
  jit_compile: bool = setting(False, "XLA-compile the training step (often faster on GPU; slower for LSTMs on CPU).",
                              resumable=True)
  # Fine-tuning schedules (engine/fine_tuning.py), for runs started --init_from a pretrained one, or any run.
  lr_schedule: str = setting("epoch_decay", "How the learning rate moves: epoch_decay (x --lr_decay after every "
                                            "epoch) or slanted_triangular (ULMFiT: up linearly over the first 10 % "
                                            "of steps from 1/32 of --learning_rate, then down linearly).",
                             choices=("epoch_decay", "slanted_triangular"))
  discriminative_lr: float = setting(1.0, "Divide the learning rate by this for each layer group below the top "
                                          "(head; recurrent layers; embedding), as ULMFiT (2.6).", at_least=1,
                                     note="1: one rate for all")
  gradual_unfreezing: bool = setting(False, "Train only the top layer group in the first epoch and unfreeze one more "
                                            "group below it each epoch (ULMFiT).")

  def validate(self):
    return validate(self)


MODEL_SETTINGS = settings_of(models.ModelSpec)
TRAINING_SETTINGS = settings_of(TrainingSpec)
HYPERPARAMETERS = {**MODEL_SETTINGS, **TRAINING_SETTINGS}
# Settings that may change between a run and its resume without making it a different run.
RESUMABLE_CHANGES = (*(f"training.{name}" for name, s in TRAINING_SETTINGS.items() if s.resumable),
                     *{f"options.{name}" for task in tasks.all_classes() for name, s in task.options.items()
                       if s.resumable},
                     "data.data_dir", "data.manual_dir")


@dataclasses.dataclass(frozen=True)
class RunConfig:
  task: str
  topology: str
  model: models.ModelSpec
  training: TrainingSpec
  data: DataConfig
  options: dict = dataclasses.field(default_factory=dict)  # the task's own settings (Task.options)
  init_from: tuple = ()   # run directories whose weights the run starts from (engine/transfer.py)

  def to_json(self):
    config = dataclasses.asdict(self)
    del config["model"]["recipe"], config["model"]["made_for"]   # applied and checked: the settings are what ran
    config["init_from"] = list(self.init_from)
    return config

  def to_flags(self, model_dir):
    """The train.py flags that make this run, every setting explicit: a --flagfile replays (and resumes) it."""
    values = {"task": self.task, "model": self.model.name, "topology": self.topology, "model_dir": model_dir,
              **{name: getattr(self.model, name) for name in MODEL_SETTINGS},
              **{name: getattr(self.training, name) for name in TRAINING_SETTINGS}, **self.options,
              **{k: v for k, v in dataclasses.asdict(self.data).items() if v is not None and v != DataConfig.encoding},
              **({"init_from": ",".join(self.init_from)} if self.init_from else {})}
    return [f"--{name}" if value is True else f"--no{name}" if value is False else f"--{name}={value}"
            for name, value in values.items()]

  @classmethod
  def from_json(cls, d):
    model = {k: v for k, v in d["model"].items() if k not in ("recipe", "made_for")}
    # A run saved before an option existed ran with that option's default, as missing fields of the specs do.
    defaults = run_option_defaults(tasks.get(d["task"])) if d["task"] in tasks.names() else {}
    options = defaults | d.get("options", {})
    return cls(task=d["task"], topology=d["topology"], model=models.ModelSpec(**model),
               training=TrainingSpec(**d["training"]), data=DataConfig(**d["data"]), options=options,
               init_from=tuple(d.get("init_from", ())))


def resolve(task_name, model_name, topology=None, overrides=None, data=DataConfig(), options=None, init_from=(),
            resuming=None):
  """Builds a validated RunConfig; `overrides` and `options` hold only the flags the user set explicitly;
  `init_from`: run directories to start from (their weights fix some settings: engine/transfer.py);
  `resuming`: the RunConfig already in the run directory, if any. A run resumed with the --init_from it was started
  with takes what it took over from its own config, not from the sources again: they may have moved since.

  Raises UserError for an unknown name, an impossible task/topology pair or a bad value.
  """
  overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
  unknown = set(overrides) - set(HYPERPARAMETERS)
  if unknown:
    raise ValueError(f"unknown settings {sorted(unknown)}")
  for name, value in overrides.items():   # a bad flag is named before anything else is looked at
    HYPERPARAMETERS[name].check(name, value)
  preset = models.get(model_name)
  supported = tasks.get(task_name).topologies
  topology = topology or supported[0]
  if topology not in models.TOPOLOGIES:
    raise UserError(f"--topology={topology} is unknown; choose one of: {', '.join(models.TOPOLOGIES)}.")
  if topology not in supported:
    raise UserError(f"--task={task_name} cannot be trained as --topology={topology}; it supports: "
                    f"{', '.join(supported)}.")
  task = tasks.get(task_name, topology)
  task.check_model(preset, topology)
  if data.data_file and not task.reads_data_file:
    raise UserError(f"--task={task_name} does not read --data_file; it reads tfds {task.tfds_name!r} "
                    "(--data_dir / --manual_dir).")
  recipe_options = {k: v for k, v in preset.recipe.items() if k in task.options}
  recipe = {k: v for k, v in preset.recipe.items() if k not in task.options}
  inherited = {}
  if init_from:
    given = {k: v for k, v in (options or {}).items() if v is not None}
    _refuse_foreign(task, given, "train")
    if resuming is not None and resuming.init_from == tuple(init_from):
      inherited, carried_options = transfer.taken_over(resuming)
    else:
      inherited, carried_options = transfer.check(read_sources(init_from), task, preset, topology, overrides, given)
    recipe_options |= carried_options
  given_options = options
  options = resolve_options(task, given_options, recipe_options)
  tuned_options = task.tuned_options(preset, options, data)   # may depend on the options resolved (e.g. the series)
  if tuned_options:
    options = resolve_options(task, given_options, tuned_options | recipe_options)
  instance = task(data, options)
  tuned = instance.tuned_defaults(preset)
  defaults = {name: s.default for name, s in TRAINING_SETTINGS.items()}
  settings = {**defaults, **{f: getattr(preset, f) for f in MODEL_SETTINGS}, **tuned, **recipe, **inherited,
              **overrides}
  if set(settings) - set(HYPERPARAMETERS):
    raise ValueError(f"unknown settings {sorted(set(settings) - set(HYPERPARAMETERS))}")
  spec = dataclasses.replace(preset, **{f: settings[f] for f in MODEL_SETTINGS}).validate()
  task.check_model(spec, topology)   # again with the settings resolved (--head, --char_units)
  instance.check_settings(spec, topology)
  if spec.attention != "none" and topology != "seq2seq":
    fix = ("pass --topology=seq2seq, or use" if "seq2seq" in supported
           else f"--task={task_name} has no seq2seq topology: use")
    raise UserError(f"--model={model_name} with attention={spec.attention} needs a decoder to attend with: {fix} a "
                    "preset without attention.")
  unchanged = {**{f: getattr(preset, f) for f in MODEL_SETTINGS}, **tuned}
  if "pooling" in overrides and overrides["pooling"] != unchanged["pooling"] and topology != "many_to_one":
    raise UserError(f"--pooling={overrides['pooling']} applies to many_to_one models (it sums a sequence up in one "
                    f"vector); --topology={topology} does not pool. Leave --pooling unset.")
  training = TrainingSpec(**{f: settings[f] for f in TRAINING_SETTINGS}).validate()
  return RunConfig(task=task_name, topology=topology, model=spec, training=training, data=data, options=options,
                   init_from=tuple(init_from))


def read_sources(paths):
  """The runs --init_from names, as engine/transfer.Source; a path that holds no readable run is a UserError."""
  sources = []
  for path in paths:
    config_path = os.path.join(path, "config.json")
    if not os.path.exists(config_path):
      raise UserError(f"--init_from={path} holds no run (no config.json); pass the directory of a trained run.")
    try:
      source_config = RunConfig.from_json(read_json(config_path))
    except (OSError, ValueError, TypeError, KeyError) as e:
      raise UserError(f"--init_from={path}: {config_path} is unreadable ({e}).") from None
    metrics_path = os.path.join(path, "metrics.json")
    try:
      metrics = read_json(metrics_path) if os.path.exists(metrics_path) else {}
    except (OSError, ValueError):
      metrics = {}
    sources.append(transfer.Source(path, source_config, metrics if isinstance(metrics, dict) else {}))
  if len(set(paths)) != len(paths):
    raise UserError(f"--init_from={','.join(paths)} names a run twice.")
  return sources


def defaults_in_words(name):
  """What an unset hyperparameter flag becomes, for --help: "default 128; sentiment 128, textgen 512, ..." (each
  task's tuned default for a plain preset; the preset's own value otherwise)."""
  preset = models.get("lstm")
  default = getattr(preset, name) if name in MODEL_SETTINGS else TRAINING_SETTINGS[name].default
  tuned = {}
  for task_name in tasks.names():
    value = tasks.get(task_name)(DataConfig(), None).tuned_defaults(preset).get(name)
    if value is not None and value != default:
      tuned[task_name] = value
  words = f"default {default}"
  return words + (f"; tuned by task: {', '.join(f'{t} {v}' for t, v in tuned.items())}" if tuned else "")


def _refuse_foreign(task, given, stage):
  for name in given:
    option = task.options.get(name)
    if option is None or not getattr(option, stage):
      owners = [tasks.label(t) for t in tasks.all_classes() if name in t.options and getattr(t.options[name], stage)]
      raise UserError(f"--{name} does not apply to --task={tasks.label(task)}"
                      + (f"; it is a setting of --task={', '.join(owners)}." if owners else "."))


def run_option_defaults(task):
  """{name: default} of the task's run options (config.json's `options`)."""
  return {name: o.default for name, o in task.options.items() if o.train}


def resolve_options(task, given, preset_defaults=None):
  """The task's run options (config.json's `options`): its defaults (or the preset's), replaced by the flags given,
  each checked; a flag the task does not have is an error naming the task that has it."""
  given = {k: v for k, v in (given or {}).items() if v is not None}
  _refuse_foreign(task, given, "train")
  defaults = run_option_defaults(task) | (preset_defaults or {})
  resolved = {name: given.get(name, default) for name, default in defaults.items()}
  for name, value in resolved.items():
    task.options[name].check(name, value)
  return resolved


def evaluation_settings(task, given):
  """What evaluate.py's task flags resolve to for this task: evaluation settings (their defaults, or the flags
  given) and run options the flags override (e.g. --beam_size); a flag the task does not have is an error."""
  given = {k: v for k, v in (given or {}).items() if v is not None}
  _refuse_foreign(task, given, "evaluate")
  resolved = {name: given.get(name, o.default) for name, o in task.options.items() if o.evaluate and not o.train}
  resolved |= {name: value for name, value in given.items() if task.options[name].train}   # e.g. --beam_size
  for name, value in resolved.items():
    task.options[name].check(name, value)
  return resolved


def differing_fields(old: dict, new: dict, prefix=""):
  """Dotted names of the settings that differ between two config.json dicts (resumable ones excluded)."""
  out = []
  for key in sorted(set(old) | set(new)):
    name = f"{prefix}{key}"
    a, b = old.get(key), new.get(key)
    if isinstance(a, dict) and isinstance(b, dict):
      out += differing_fields(a, b, f"{name}.")
    elif a != b and name not in RESUMABLE_CHANGES:
      out.append(f"{name}: {a!r} -> {b!r}")
  return out
