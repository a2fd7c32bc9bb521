"""The fine-tuning schedules ULMFiT (Howard & Ruder 2018) found to matter, as training options of any run:

- discriminative learning rates (--discriminative_lr=2.6): each layer group below the top learns at the rate of
  the group above divided by this factor, so the general features of the lower layers move least;
- gradual unfreezing (--gradual_unfreezing): the first epoch trains only the top group, each later epoch one more
  group below it, until all train;
- the slanted triangular schedule (--lr_schedule=slanted_triangular): the learning rate rises linearly from
  1/32 of --learning_rate to all of it over the first 10 % of the run's steps, then falls linearly back.

Layer groups, bottom to top, by role as engine/transfer.py maps them: the token embedding, each recurrent layer,
and everything else (the head, pooling). Keras has neither per-variable learning rates nor freezing that keeps an
optimizer's variables in place, hence the small Adam subclass and the gradient masks here.
"""

import keras

CUT_FRACTION, RATIO = 0.1, 32   # ULMFiT's slanted triangular schedule


def layer_groups(model):
  """The model's trainable variables in groups, bottom to top: [embedding], each recurrent layer, [the rest]."""
  grouped, seen = [], set()
  embeddings = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
  recurrent = [layer for layer in model.layers if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))]
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
  """Adam whose learning rate is divided by factor**depth for a variable `depth` groups below the top."""

  def __init__(self, depths=None, factor=1.0, **kwargs):
    super().__init__(**kwargs)
    self.depths, self.factor = dict(depths or {}), factor

  def build(self, var_list):
    super().build(var_list)
    self._scales = [self.factor ** -self.depths.get(v.path, 0) for v in var_list]   # by the optimizer's index

  def update_step(self, gradient, variable, learning_rate):
    scale = self._scales[self._get_variable_index(variable)]
    super().update_step(gradient, variable, learning_rate * scale if scale != 1 else learning_rate)

  def get_config(self):
    return {**super().get_config(), "depths": self.depths, "factor": self.factor}
