"""The fine-tuning schedules ULMFiT (Howard & Ruder 2018) found to matter, as training options of any run:

- discriminative learning rates (--discriminative_lr=2.6): each layer group below the top learns at the rate of
  the group above divided by this factor, so the general features of the lower layers move least;
- gradual unfreezing (--gradual_unfreezing): the first epoch trains only the top group, each later epoch one more
  group below it, until all train;
- the slanted triangular schedule (--lr_schedule=slanted_triangular): the learning rate rises linearly from
  1/32 of --learning_rate to all of it over the first 10 % of the run's steps, then falls linearly back.

Layer groups, bottom to top, by role as engine/transfer.py maps them: the token embedding, each recurrent layer,
and everything else (the head, pooling). Keras has neither per-variable learning rates nor freezing that keeps an
optimizer's variables in place, hence the small Adam subclass (with a step count of each variable's own for
unfreezing) and the gradient masks here.
"""

import keras
from keras import ops

CUT_FRACTION, RATIO = 0.1, 32   # ULMFiT's slanted triangular schedule


def reading_layers(model):
  """(the model's token Embedding layers, its recurrent layers bottom to top): what layer groups and --init_from's
  roles (engine/transfer.py) are made of, found by type, not by name."""
  embeddings = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
  recurrent = [layer for layer in model.layers if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))]
  return embeddings, recurrent


def layer_groups(model):
  """The model's trainable variables in groups, bottom to top: [embedding], each recurrent layer, [the rest]."""
  grouped, seen = [], set()
  embeddings, recurrent = reading_layers(model)
  for layer in embeddings + recurrent:
    variables = [v for v in layer.trainable_variables if id(v) not in seen]
    seen.update(id(v) for v in variables)
    if variables:
      grouped.append(variables)
  rest = [v for v in model.trainable_variables if id(v) not in seen]
  return grouped + ([rest] if rest else [])


def group_of(model):
  """{variable path: its group's depth below the top} (the top group: 0)."""
  groups = layer_groups(model)
  return {v.path: len(groups) - 1 - i for i, group in enumerate(groups) for v in group}


def slanted_triangular(step, total_steps):
  """The schedule's factor of --learning_rate at `step` of `total_steps`."""
  cut = max(1, int(total_steps * CUT_FRACTION))
  if step < cut:
    p = step / cut
  else:
    p = 1 - (step - cut) / max(1, total_steps - cut)
  return (1 + max(p, 0.0) * (RATIO - 1)) / RATIO


def frozen_depth(epoch, groups):
  """With gradual unfreezing, the groups at this depth below the top or deeper are frozen in `epoch` (0-based)."""
  return epoch + 1 if epoch + 1 < groups else groups


@keras.saving.register_keras_serializable("rnnzoo")
class LayerwiseAdam(keras.optimizers.Adam):
  """Adam whose learning rate is divided by factor**depth for a variable `depth` groups below the top.

  With `frozen_depth` (a variable the loop sets each epoch for gradual unfreezing), the groups that deep or deeper
  are frozen (the loop zeroes their gradients, so Adam's moments stay zero and they do not move) and each variable
  counts its own steps since it was unfrozen for Adam's bias correction: with the global step count, a group
  unfrozen late would take its first steps at about 3x the rate (1 - 0.9**k against sqrt(1 - 0.999**k)), moving
  the lower layers most, the opposite of what unfreezing is for.
  """

  def __init__(self, depths=None, factor=1.0, frozen_depth=None, **kwargs):
    super().__init__(**kwargs)
    self.depths, self.factor, self.frozen_depth = dict(depths or {}), factor, frozen_depth

  def build(self, var_list):
    super().build(var_list)
    self._depth_of = [self.depths.get(v.path, 0) for v in var_list]   # by the optimizer's variable index
    self._scales = [self.factor ** -depth for depth in self._depth_of]
    if self.frozen_depth is not None:
      self._steps = [self.add_variable((), initializer="zeros", name="steps_unfrozen") for _ in var_list]

  def update_step(self, gradient, variable, learning_rate):
    index = self._get_variable_index(variable)
    scale = self._scales[index]
    learning_rate = learning_rate * scale if scale != 1 else learning_rate
    if self.frozen_depth is None:
      return super().update_step(gradient, variable, learning_rate)
    # Adam (as keras.optimizers.Adam, without amsgrad) with the variable's own step count.
    steps = self._steps[index]
    self.assign_add(steps, ops.cast(self._depth_of[index] < self.frozen_depth, steps.dtype))
    step = ops.cast(ops.maximum(steps, 1.0), variable.dtype)
    gradient = ops.cast(gradient, variable.dtype)
    m, v = self._momentums[index], self._velocities[index]
    alpha = (ops.cast(learning_rate, variable.dtype) * ops.sqrt(1 - ops.power(self.beta_2, step))
             / (1 - ops.power(self.beta_1, step)))
    self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
    self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
    self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon)))

  def get_config(self):
    return {**super().get_config(), "depths": self.depths, "factor": self.factor}
