"""The model registry: presets by name, and topology builders that turn a preset into a Keras model.

    spec = models.get("bilstm")                       # a ModelSpec
    model = models.build(spec, "many_to_one", io)     # a keras.Model for a task's IOSpec
"""

from models import forecaster, topologies
from models.registry import ATTENTIONS, CELLS, EMBEDDING_DROPOUTS, POOLINGS, ModelSpec, get, names, register
from models.topologies import TOPOLOGIES


def build(spec, topology, io):
  """The Keras model of a preset as `topology` for a task's IOSpec (forecasting tasks: wrapped in a forecaster)."""
  if io.window is not None:
    return forecaster.build(spec, topology, io)
  return topologies.build(spec, topology, io)


__all__ = ["ATTENTIONS", "CELLS", "EMBEDDING_DROPOUTS", "POOLINGS", "ModelSpec", "get", "names", "register",
           "TOPOLOGIES", "build"]
