"""The model registry: presets by name, and topology builders that turn a preset into a Keras model.

    spec = models.get("bilstm")                       # a ModelSpec
    model = models.build(spec, "many_to_one", io)     # a keras.Model for a task's IOSpec
"""

from models.registry import CELLS, EMBEDDING_DROPOUTS, POOLINGS, ModelSpec, get, names, register
from models.topologies import TOPOLOGIES, build

__all__ = ["CELLS", "EMBEDDING_DROPOUTS", "POOLINGS", "ModelSpec", "get", "names", "register", "TOPOLOGIES", "build"]
