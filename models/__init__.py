"""The model registry: presets by name, and topology builders that turn a preset into a Keras model.

    spec = models.get("bilstm")                       # a ModelSpec
    model = models.build(spec, "many_to_one", io)     # a keras.Model for a task's IOSpec
"""

from models import forecaster, topologies
from models.io_spec import IOSpec
from models.registry import ATTENTIONS, CELLS, EMBEDDING_DROPOUTS, HEADS, POOLINGS, ModelSpec, get, names, register
from models.topologies import TOPOLOGIES


def feed(model, inputs):
  """Of a dict of inputs, those `model` takes: a task offers what any of its models may read (tagging offers
  characters), and a model reads what its preset asks for."""
  if not isinstance(inputs, dict):
    return inputs
  if isinstance(model.input, dict):
    return {name: inputs[name] for name in model.input}
  return inputs[model.inputs[0].name]


def build(spec, topology, io):
  """The Keras model of a preset as `topology` for a task's IOSpec.

  Args:
    spec: a ModelSpec (`models.get(name)`, its fields replaced as the run's settings say).
    topology: one of TOPOLOGIES.
    io: the task's IOSpec; with a `window` (forecasting) the topology is wrapped in a forecaster.

  Example:
  >>> import models, numpy as np
  >>> io = models.IOSpec("tokens", input_size=100, output_size=2)
  >>> model = models.build(models.get("bilstm"), "many_to_one", io)
  >>> model(np.array([[5, 7, 0]])).shape
  TensorShape([1, 2])
  """
  if io.window is not None:
    return forecaster.build(spec, topology, io)
  return topologies.build(spec, topology, io)


__all__ = ["ATTENTIONS", "CELLS", "EMBEDDING_DROPOUTS", "HEADS", "POOLINGS", "IOSpec", "ModelSpec", "get", "names",
           "register", "TOPOLOGIES", "build", "feed"]
