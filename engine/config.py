"""A run's resolved settings, and the precedence that produces them.

Precedence for every hyperparameter: explicit flag > the task's tuned defaults for that model >
the preset (model fields) or TRAINING_DEFAULTS (training fields). The result is written to the
run directory as config.json and into the export's assets.
"""

import dataclasses

import models
import tasks
from common.errors import UserError
from tasks.base import DataConfig

MODEL_FIELDS = ("units", "layers", "dropout", "embedding_dim", "pooling", "embedding_dropout", "attention")
TRAINING_DEFAULTS = {"epochs": 10, "batch_size": 64, "learning_rate": 1e-3, "lr_decay": 1.0, "clipnorm": 5.0,
                     "patience": 3, "ema_momentum": 0.0, "seed": 0, "checkpoint_every_steps": 0,
                     "deterministic": False, "mixed_precision": False, "jit_compile": False}
# Flags that may change between a run and its resume without making it a different run.
RESUMABLE_CHANGES = ("training.epochs", "training.checkpoint_every_steps", "training.jit_compile", "data.data_dir",
                     "data.manual_dir")


@dataclasses.dataclass(frozen=True)
class TrainingSpec:
  epochs: int
  batch_size: int
  learning_rate: float
  lr_decay: float      # the learning rate of epoch e is learning_rate * lr_decay**e
  clipnorm: float      # global gradient-norm clip; 0 turns it off
  patience: int        # epochs without validation improvement before stopping; 0 never stops early
  seed: int
  ema_momentum: float = 0.0         # validate, keep and export a moving average of the weights (0: the weights)
  checkpoint_every_steps: int = 0   # also checkpoint every this many steps (0: every epoch and 5 minutes)
  deterministic: bool = False       # op determinism: the same command gives the same figures
  mixed_precision: bool = False     # float16 compute with float32 weights (GPUs with tensor cores)
  jit_compile: bool = False         # XLA-compile the training step

  def validate(self):
    checks = {"epochs": self.epochs >= 1, "batch_size": self.batch_size >= 1,
              "learning_rate": self.learning_rate > 0, "lr_decay": 0 < self.lr_decay <= 1,
              "clipnorm": self.clipnorm >= 0, "ema_momentum": 0 <= self.ema_momentum < 1,
              "patience": self.patience >= 0, "checkpoint_every_steps": self.checkpoint_every_steps >= 0}
    for name, ok in checks.items():
      if not ok:
        rule = {"epochs": ">= 1", "batch_size": ">= 1", "learning_rate": "> 0",
                "lr_decay": "in (0, 1]", "ema_momentum": "in [0, 1) (0: off)"}.get(name, ">= 0")
        raise UserError(f"--{name}={getattr(self, name)} is invalid; it must be {rule}.")
    return self


@dataclasses.dataclass(frozen=True)
class RunConfig:
  task: str
  topology: str
  model: models.ModelSpec
  training: TrainingSpec
  data: DataConfig
  options: dict = dataclasses.field(default_factory=dict)  # the task's own settings (Task.options)

  def to_json(self):
    return dataclasses.asdict(self)

  @classmethod
  def from_json(cls, d):
    return cls(task=d["task"], topology=d["topology"], model=models.ModelSpec(**d["model"]),
               training=TrainingSpec(**d["training"]), data=DataConfig(**d["data"]), options=d.get("options", {}))


def resolve(task_name, model_name, topology=None, overrides=None, data=DataConfig(), options=None):
  """Builds a validated RunConfig; `overrides` and `options` hold only the flags the user set explicitly.

  Raises UserError for an unknown name, an impossible task/topology pair or a bad value.
  """
  overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
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
  options = _resolve_options(task, options, task.tuned_options(preset))
  tuned = task(data, options).tuned_defaults(preset)
  settings = {**TRAINING_DEFAULTS, **{f: getattr(preset, f) for f in MODEL_FIELDS}, **tuned, **overrides}
  unknown = set(settings) - set(TRAINING_DEFAULTS) - set(MODEL_FIELDS)
  if unknown:
    raise ValueError(f"unknown settings {sorted(unknown)}")
  spec = dataclasses.replace(preset, **{f: settings[f] for f in MODEL_FIELDS}).validate()
  if spec.attention != "none" and topology != "seq2seq":
    raise UserError(f"--model={model_name} with attention={spec.attention} needs a decoder to attend with: pass "
                    f"--topology=seq2seq (where --task={task_name} supports it), or a preset without attention.")
  training = TrainingSpec(**{f: settings[f] for f in TRAINING_DEFAULTS}).validate()
  return RunConfig(task=task_name, topology=topology, model=spec, training=training, data=data, options=options)


def _resolve_options(task, given, tuned=None):
  """The task's options: its defaults (or its tuned ones for the preset), replaced by the flags given; a flag it
  does not have is an error."""
  given = {k: v for k, v in (given or {}).items() if v is not None}
  for name, value in given.items():
    if name not in task.options:
      owners = sorted(t.name for t in tasks.all_classes() if name in t.options)
      raise UserError(f"--{name} does not apply to --task={task.name}"
                      + (f"; it is a setting of --task={','.join(owners)}." if owners else "."))
    choices = task.options[name].choices
    if choices and value not in choices:
      raise UserError(f"--{name}={value} is invalid; choose one of: {', '.join(map(str, choices))}.")
  defaults = {name: option.default for name, option in task.options.items()} | (tuned or {})
  return {name: given.get(name, defaults[name]) for name in task.options}


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

