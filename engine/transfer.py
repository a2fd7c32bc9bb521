"""--init_from: a new run that starts from the weights of earlier runs (typically a pretrained language model).

What is carried over, matched by role in the models' structure (never by layer names):
- the source task's vocabulary files: the new run reads its tokens with the source's ids;
- the token embedding;
- recurrent layer i, direction d <- the source's recurrent layer i read in direction d. A unidirectional source
  reads forward, or backward when its task reads backwards (language_model --backwards); a bidirectional model
  takes its two directions from one bidirectional source or from two sources, one per direction (ULMFiT's forward
  and backward models). With two sources the embedding is the forward one's.
The head, the optimizer's state and the loop's position start fresh. The model settings those weights fix
(embedding_dim, units) come from the source unless given; anything that cannot match (another cell, units,
vocabulary, direction, a deeper model than the source) is a UserError naming what differs.
"""

import dataclasses
import filecmp
import logging
import os
import shutil

import keras

import models
import tasks
from common.errors import UserError
from engine import fine_tuning

log = logging.getLogger("rnnzoo")

INHERITED = ("embedding_dim", "units")   # model settings the carried weights fix
TOPOLOGIES = ("many_to_one", "many_to_many")   # whose models have one embedding and one recurrent stack


@dataclasses.dataclass(frozen=True)
class Source:
  """An earlier run to start from: its directory, its RunConfig and its metrics.json."""
  path: str
  config: object
  metrics: dict

  @property
  def task(self):
    return tasks.create(self.config)

  def directions(self):
    if self.config.model.bidirectional:
      return ("forward", "backward")
    return ("backward",) if self.task.reads_backwards() else ("forward",)

  def describe(self):
    return f"{self.path} ({self.config.task}, {self.config.model.name}, {'+'.join(self.directions())})"


def check(sources, task_class, preset, topology, overrides, options):
  """The settings a run from `sources` takes over, after checking it can: (model settings, task options).

  overrides / options: the flags given explicitly (a given value that contradicts the sources is an error).
  """
  flag = f"--init_from={','.join(s.path for s in sources)}"
  if task_class.tokens is None:
    raise UserError(f"--task={task_class.name} cannot start from another run's weights ({flag}); the tasks that can "
                    f"are: {', '.join(n for n in tasks.names() if tasks.get(n).tokens)}.")
  for source in sources:
    if not os.path.exists(os.path.join(source.path, "best.weights.h5")):
      raise UserError(f"--init_from={source.path} has no trained weights yet (best.weights.h5: it is written after "
                      "the first epoch).")
    source_task = tasks.get(source.config.task, source.config.topology)
    if source_task.tokens != task_class.tokens:
      raise UserError(f"--init_from={source.path} is a {source.config.task} run, which reads "
                      f"{source_task.tokens or 'inputs of its own'}; --task={task_class.name} reads "
                      f"{task_class.tokens}. Start from a run of a task that reads the same tokens.")
    if source.config.topology not in TOPOLOGIES or topology not in TOPOLOGIES:
      raise UserError(f"{flag}: only {' and '.join(TOPOLOGIES)} models start from another run's weights "
                      f"(this run is {topology}, {source.path} is {source.config.topology}).")
    if source.config.model.cell != preset.cell:
      raise UserError(f"--init_from={source.path} has {source.config.model.cell} cells; --model={preset.name} has "
                      f"{preset.cell} cells. Use a {source.config.model.cell} preset.")
    layers = overrides.get("layers", preset.layers)
    if layers > source.config.model.layers:
      raise UserError(f"--init_from={source.path} has {source.config.model.layers} recurrent layer(s); "
                      f"--model={preset.name} with {layers} would start its upper layers from nothing. Pass "
                      f"--layers={source.config.model.layers} or fewer.")
  _check_directions(sources, task_class, preset, options, flag)
  inherited = {}
  for name in INHERITED:
    values = {getattr(s.config.model, name) for s in sources}
    if len(values) > 1:
      raise UserError(f"the --init_from runs differ in {name} ({', '.join(str(v) for v in sorted(values))}); "
                      "start from runs of one shape.")
    value = values.pop()
    if name in overrides and overrides[name] != value:
      raise UserError(f"--{name}={overrides[name]} differs from --init_from's {name} {value}, which its weights "
                      f"have; leave --{name} unset.")
    inherited[name] = value
  if len(sources) > 1:
    for name in task_class.vocabulary_files:
      if not filecmp.cmp(*(os.path.join(s.path, name) for s in sources), shallow=False):
        raise UserError(f"the --init_from runs have different vocabularies ({name}); start from runs that share "
                        "one (language models trained on the same text, the same --data_file or tfds dataset with the "
                        "same --vocab_size, fit the same vocabulary).")
  carried_options = {}
  vocab_sizes = {s.config.options.get("vocab_size") for s in sources} - {None}
  if "vocab_size" in task_class.options and vocab_sizes:
    size = vocab_sizes.pop()
    if options.get("vocab_size", size) != size:
      raise UserError(f"--vocab_size={options['vocab_size']} differs from --init_from's vocabulary of {size} "
                      "tokens, which the run takes over; leave --vocab_size unset.")
    carried_options["vocab_size"] = size
  return inherited, carried_options


def taken_over(config):
  """What a run started --init_from other runs took over from them, read back from its own RunConfig (a resume
  needs no source): the (model settings, task options) check returned when it started."""
  return ({name: getattr(config.model, name) for name in INHERITED},
          {"vocab_size": config.options["vocab_size"]} if "vocab_size" in config.options else {})


def _check_directions(sources, task_class, preset, options, flag):
  if preset.bidirectional:
    needed = ("forward", "backward")
  else:
    needed = ("backward",) if options.get("backwards") else ("forward",)
  offered = [d for s in sources for d in s.directions()]
  missing = [d for d in needed if d not in offered]
  doubled = sorted({d for d in offered if offered.count(d) > 1})
  surplus = sorted(set(offered) - set(needed))
  if missing or doubled or surplus:
    have = "; ".join(s.describe() for s in sources)
    raise UserError(f"--model={preset.name} reads {' and '.join(needed)}, but {flag} offers {have}. "
                    + ("A bidirectional model needs a forward and a backward source (language_model --backwards "
                       "trains the backward one)." if preset.bidirectional else
                       f"Pass one {needed[0]} source."))


def carry_vocabulary(source_path, task, run_path):
  """Copies the (first) source's vocabulary files into the new run, before its task prepares its inputs."""
  for name in type(task).vocabulary_files:
    target = os.path.join(run_path, name)
    if not os.path.exists(target):
      shutil.copyfile(os.path.join(source_path, name), target)


def initialize(model, sources, backwards=False):
  """Copies the sources' embedding and recurrent weights into `model` (which reads backwards if `backwards`) by role;
  returns what landed where. A role left without weights is an error, never a silent fresh start."""
  target = _roles(model, backwards=backwards)
  landed, filled = [], set()
  for source in sorted(sources, key=lambda s: "forward" not in s.directions()):   # the forward one's embedding
    source_model = _trained_model(source)
    offered = _roles(source_model, backwards=source.task.reads_backwards())
    for role, layer in target.items():
      if role in offered and role not in filled:
        _copy(offered[role], layer, role, source)
        filled.add(role)
        landed.append(f"{_name(role)} <- {source.path}")
  missing = [_name(role) for role in target if role not in filled]
  if missing:
    raise UserError(f"--init_from={','.join(s.path for s in sources)} has nothing for this model's "
                    f"{', '.join(missing)}; start from runs with at least as many layers in each direction.")
  return landed


def _trained_model(source):
  best = os.path.join(source.path, "best.weights.h5")
  io = source.task.prepare(source.path, source.config.training.batch_size)
  model = models.build(source.config.model, source.config.topology, io)
  try:
    model.load_weights(best)
  except Exception as e:   # h5py and Keras report damage in several types
    raise UserError(f"--init_from={source.path}: its best.weights.h5 cannot be read ({e}).") from None
  return model


def _roles(model, backwards):
  """{role: layer}: ("embedding",) -> the token Embedding; ("recurrent", i, direction) -> the i-th recurrent
  layer reading in `direction` (a bidirectional layer gives both)."""
  embeddings, recurrent = fine_tuning.reading_layers(model)
  if len(embeddings) != 1:
    raise ValueError(f"{model.name} has {len(embeddings)} token embeddings; --init_from maps one")
  roles = {("embedding",): embeddings[0]}
  for i, layer in enumerate(recurrent):
    if isinstance(layer, keras.layers.Bidirectional):
      roles[("recurrent", i, "forward")] = layer.forward_layer
      roles[("recurrent", i, "backward")] = layer.backward_layer
    else:
      roles[("recurrent", i, "backward" if backwards else "forward")] = layer
  return roles


def _name(role):
  return "embedding" if role == ("embedding",) else f"recurrent layer {role[1] + 1} {role[2]}"


def _copy(source_layer, target_layer, role, source):
  values = source_layer.get_weights()
  shapes = [tuple(v.shape) for v in values]
  wanted = [tuple(w.shape) for w in target_layer.weights]
  if shapes != wanted:
    why = (" (a bidirectional model's upper layers read both directions of the layer below, twice as wide as a "
           "unidirectional model's)" if role[0] == "recurrent" and role[1] > 0 else "")
    raise UserError(f"--init_from={source.path}: its {_name(role)} has weights of shapes {shapes}, this model's "
                    f"{wanted}{why}; they cannot be carried over.")
  target_layer.set_weights(values)
