"""The fine-tuning schedules: layer groups, discriminative learning rates, gradual unfreezing, the slanted triangular
schedule, on the toy classifier."""

import numpy as np
import pytest
import tensorflow as tf

import models
import tasks
from engine import config, fine_tuning
from engine.loop import Trainer
from engine.run_dir import RunDir


def _trainer(tmp_path, **overrides):
  resolved = config.resolve("toy_classify", "stacked_lstm", overrides={"dropout": 0.0, **overrides})
  task = tasks.create(resolved)
  run = RunDir(str(tmp_path))
  run.create(resolved)
  model = models.build(resolved.model, resolved.topology, task.prepare(run.path))
  return Trainer(model, task, resolved, run)


def _groups_moved(trainer, before):
  return [any(not np.array_equal(v.numpy(), before[id(v)]) for v in group) for group in trainer.groups]


def test_layer_groups_run_from_the_embedding_up_to_the_head(tmp_path):
  trainer = _trainer(tmp_path)
  names = [[v.path.split("/")[0] for v in group] for group in trainer.groups]
  assert names == [["embedding"], ["recurrent_lstm_0"] * 3, ["recurrent_lstm_1"] * 3, ["head", "head"]]


def test_gradual_unfreezing_trains_one_more_group_each_epoch(tmp_path):
  trainer = _trainer(tmp_path, gradual_unfreezing=True, epochs=4, patience=0)
  moved = []
  for epochs in range(1, 5):
    before = {id(v): v.numpy().copy() for v in trainer.model.trainable_variables}
    trainer.config = config.dataclasses.replace(trainer.config, training=config.dataclasses.replace(
        trainer.config.training, epochs=epochs))
    trainer.fit()
    moved.append(_groups_moved(trainer, before))
  assert moved == [[False, False, False, True], [False, False, True, True], [False, True, True, True],
                   [True, True, True, True]]


def test_discriminative_rates_shrink_each_group_below_the_top_by_the_factor(tmp_path):
  trainer = _trainer(tmp_path, discriminative_lr=10.0, learning_rate=0.1, clipnorm=0.0)
  variables = trainer.model.trainable_variables
  before = [v.numpy().copy() for v in variables]
  gradients = [tf.ones_like(v) for v in variables]   # Adam's first step moves every weight by about lr
  trainer.optimizer.apply_gradients(zip(gradients, variables))
  steps = {trainer._depth[i]: float(np.abs(v.numpy() - b).max()) for i, (v, b) in enumerate(zip(variables, before))}
  assert steps == pytest.approx({0: 0.1, 1: 0.01, 2: 0.001, 3: 0.0001}, rel=1e-3)


def test_the_slanted_triangular_schedule_climbs_a_tenth_of_the_run_then_falls():
  total = 1000
  factors = [fine_tuning.slanted_triangular(step, total) for step in range(total + 1)]
  assert factors[0] == pytest.approx(1 / 32) and factors[100] == pytest.approx(1.0)
  assert factors[-1] == pytest.approx(1 / 32) and max(factors) == factors[100]
  assert all(a < b for a, b in zip(factors[:100], factors[1:101]))
  assert all(a > b for a, b in zip(factors[100:], factors[101:]))


def test_a_run_on_the_slanted_schedule_sets_the_rate_per_call_and_learns(tmp_path):
  trainer = _trainer(tmp_path, lr_schedule="slanted_triangular", learning_rate=0.02, epochs=3, patience=0)
  trainer.max_steps_per_call = 1
  rates = []
  original = trainer._train_steps

  def recording(iterator, count):
    rates.append(float(trainer.optimizer.learning_rate))
    return original(iterator, count)

  trainer._train_steps = recording
  trainer.fit()
  assert rates[0] == pytest.approx(0.02 / 32)
  assert max(rates) == pytest.approx(0.02, rel=0.05) and rates[-1] < 0.2 * 0.02


def test_a_group_unfrozen_late_takes_adams_first_step_not_a_larger_one():
  import keras
  top, below = keras.Variable([0.0], name="top"), keras.Variable([0.0], name="below")
  frozen = tf.Variable(1)   # depth 1 and deeper frozen
  optimizer = fine_tuning.LayerwiseAdam({top.path: 0, below.path: 1}, frozen_depth=frozen, learning_rate=0.01)
  optimizer.build([top, below])
  for _ in range(50):   # the loop zeroes a frozen group's gradients
    optimizer.apply_gradients([(tf.ones([1]), top), (tf.zeros([1]), below)])
  assert float(below[0]) == 0.0 and float(top[0]) == pytest.approx(-0.5, rel=1e-3)
  frozen.assign(2)
  optimizer.apply_gradients([(tf.ones([1]), top), (tf.ones([1]), below)])
  assert float(below[0]) == pytest.approx(-0.01, rel=1e-3)   # Adam's first step: the learning rate itself
