"""The linear-chain CRF: the forward algorithm and Viterbi against brute force over all tag paths, gradients,
learning where transitions matter, saving, and running in graphs of unknown batch and length."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import crf


def _brute_force(emissions, packed, length):
  """(log Z, best score, best path) of one example by scoring every tag path of `length`."""
  tags = emissions.shape[-1]
  transitions, start, end = packed[:tags], packed[tags], packed[tags + 1]
  if length == 0:
    return 0.0, 0.0, ()
  scores = {}
  for path in itertools.product(range(tags), repeat=length):
    scores[path] = (start[path[0]] + end[path[-1]] + sum(emissions[t, y] for t, y in enumerate(path))
                    + sum(transitions[a, b] for a, b in zip(path, path[1:])))
  values = np.array(list(scores.values()), np.float64)
  best = max(scores, key=scores.get)
  return values.max() + np.log(np.exp(values - values.max()).sum()), scores[best], best


def _random_case(rng, tags, steps, lengths):
  emissions = rng.normal(0, 2, size=(len(lengths), steps, tags)).astype(np.float32)
  packed = rng.normal(0, 1, size=(tags + 2, tags)).astype(np.float32)
  mask = np.arange(steps)[None] < np.array(lengths)[:, None]
  gold = rng.integers(0, tags, size=(len(lengths), steps))
  gold[~mask] = -1   # padding ids are ignored, whatever they are
  return emissions, np.broadcast_to(packed, (len(lengths), tags + 2, tags)), mask, gold


# One graph of unknown batch, length and tag count serves every case below.
_SIGNATURE = [tf.TensorSpec([None, None, None], tf.float32), tf.TensorSpec([None, None, None], tf.float32),
              tf.TensorSpec([None, None], tf.bool), tf.TensorSpec([None, None], tf.int32)]


@tf.function(input_signature=_SIGNATURE)
def _all(emissions, transitions, mask, tags):
  path, best = crf.viterbi(emissions, transitions, mask)
  return (crf.nll(emissions, transitions, tags, mask), crf.log_partition(emissions, transitions, mask), path, best,
          crf.path_score(emissions, transitions, path, mask))


@pytest.mark.parametrize("tags", [3, 4])
@pytest.mark.parametrize("steps", [1, 2, 3, 5])
def test_nll_and_viterbi_equal_brute_force_over_all_paths(tags, steps):
  rng = np.random.default_rng(10 * tags + steps)
  lengths = [steps, 0, 1, max(steps - 2, 1), steps]   # full, fully masked, one step, partial
  emissions, transitions, mask, gold = _random_case(rng, tags, steps, lengths)
  nll, log_z, path, best, rescored = (x.numpy() for x in _all(emissions, transitions, mask, gold))
  for b, length in enumerate(lengths):
    expected_log_z, expected_best, expected_path = _brute_force(emissions[b], transitions[b], length)
    gold_score = 0.0
    if length:
      y = gold[b, :length]
      gold_score = (transitions[b, tags, y[0]] + transitions[b, tags + 1, y[-1]] + emissions[b, range(length), y].sum()
                    + sum(transitions[b, p, q] for p, q in zip(y, y[1:])))
    np.testing.assert_allclose(log_z[b], expected_log_z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(nll[b], expected_log_z - gold_score, rtol=1e-5, atol=1e-5)
    assert tuple(path[b, :length]) == expected_path and not path[b, length:].any()
    np.testing.assert_allclose([best[b], rescored[b]], [expected_best] * 2, rtol=1e-5, atol=1e-5)
  assert (nll >= -1e-5).all() and path.dtype == np.int32


def test_large_scores_stay_finite_and_padding_gets_no_gradient():
  emissions = tf.constant(np.random.default_rng(0).normal(0, 1e4, size=(3, 4, 3)), tf.float32)
  transitions = tf.Variable(tf.random.stateless_normal([3, 5, 3], seed=[1, 2]) * 1e3)
  mask = tf.constant([[True] * 4, [True, True, False, False], [False] * 4])
  tags = tf.constant([[0, 1, 2, 0], [2, 2, 0, 0], [0, 0, 0, 0]])
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(emissions)
    loss = crf.nll(emissions, transitions, tags, mask)
    total = tf.reduce_sum(loss)
  for gradient in tape.gradient(total, [emissions, transitions]):
    assert np.isfinite(gradient.numpy()).all()
  assert np.isfinite(loss.numpy()).all() and loss.numpy()[2] == 0.0
  np.testing.assert_array_equal(tape.gradient(total, emissions).numpy()[~mask.numpy()], 0.0)


def test_float16_emissions_are_scored_in_float32():
  rng = np.random.default_rng(3)
  emissions, transitions, mask, gold = _random_case(rng, 4, 5, [5, 3, 0])
  half = tf.constant(emissions, tf.float16)
  nll = crf.nll(half, transitions.astype(np.float16), gold, mask)
  path, best = crf.viterbi(half, transitions, mask)
  assert nll.dtype == best.dtype == tf.float32 and path.dtype == tf.int32
  np.testing.assert_allclose(nll, crf.nll(tf.cast(half, tf.float32), transitions.astype(np.float16).astype(np.float32),
                                          gold, mask), rtol=1e-6)


def _tagger(vocabulary, tags, emissions_dtype=None):
  ids = keras.Input(shape=(None,), dtype="int32")
  emissions = keras.layers.Embedding(vocabulary, tags, dtype=emissions_dtype, name="emissions")(ids)
  return keras.Model(ids, crf.CRF(tags, name="crf")(emissions))


def test_a_tagger_whose_steps_see_only_their_own_token_learns_a_task_only_transitions_can_solve():
  # Each sentence is a cue (token 1: tags 0, token 2: tags 1) then 1-5 blanks (token 3) tagged like the cue:
  # a blank's own scores cannot tell which, so only learned transitions carry the cue along the path.
  rng = np.random.default_rng(0)
  cues = rng.integers(1, 3, size=256)
  lengths = rng.integers(2, 7, size=256)
  mask = np.arange(6)[None] < lengths[:, None]
  ids = np.where(mask, 3, 0).astype(np.int32)
  ids[:, 0] = cues
  gold = np.where(mask, cues[:, None] - 1, 0).astype(np.int32)
  keras.utils.set_random_seed(0)
  model = _tagger(4, 3)
  optimizer = keras.optimizers.Adam(0.1)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(crf.nll(**model(ids), tags=gold, mask=mask))
    optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
    return loss

  losses = [float(step()) for _ in range(150)]
  outputs = model(ids)
  path, _ = crf.viterbi(**outputs, mask=mask)
  per_step = np.argmax(outputs["emissions"].numpy(), axis=-1)
  blanks = mask & (ids == 3)
  assert losses[-1] < 0.1 * losses[0]
  assert (path.numpy()[mask] == gold[mask]).all()
  assert (per_step[blanks] == gold[blanks]).mean() < 0.75   # emissions alone: one guess for every blank


def test_a_model_with_the_layer_saves_and_loads_as_keras_with_identical_outputs(tmp_path):
  model = _tagger(7, 4)
  layer = model.get_layer("crf")
  layer.set_weights([np.random.default_rng(s).normal(size=w.shape) for s, w in enumerate(layer.get_weights())])
  ids = np.array([[1, 2, 3, 0], [4, 5, 6, 6]], np.int32)
  path = str(tmp_path / "tagger.keras")
  model.save(path)
  loaded = keras.saving.load_model(path)
  before, after = model(ids), loaded(ids)
  assert sorted(after) == ["emissions", "transitions"] and after["transitions"].shape == (2, 6, 4)
  for key in before:
    np.testing.assert_array_equal(before[key], after[key])
  assert loaded.get_layer("crf").get_config()["num_tags"] == 4
  np.testing.assert_array_equal(crf.unpack(after["transitions"])[0][0], layer.transitions.numpy())


def test_the_layer_outputs_float32_under_mixed_precision_and_checks_its_tag_count():
  outputs = _tagger(5, 3, emissions_dtype="mixed_float16")(np.ones([2, 3], np.int32))
  assert outputs["emissions"].dtype == outputs["transitions"].dtype == "float32"
  with pytest.raises(ValueError, match="CRF over 4 tags got emissions with 3 scores per step"):
    crf.CRF(4)(keras.Input((None, 3)))


def test_decoding_and_loss_run_in_an_exported_savedmodel_for_any_batch_and_length(tmp_path):
  tags = 3
  packed = crf.pack(*[tf.constant(np.random.default_rng(s).normal(size=shape), tf.float32)
                      for s, shape in enumerate([(tags, tags), (tags,), (tags,)])])
  module = tf.Module()
  module.packed = tf.Variable(packed)

  @tf.function(input_signature=[tf.TensorSpec([None, None, tags]), tf.TensorSpec([None, None], tf.bool),
                                tf.TensorSpec([None, None], tf.int32)])
  def decode(emissions, mask, gold):
    transitions = tf.broadcast_to(module.packed[None], [tf.shape(emissions)[0], tags + 2, tags])
    path, score = crf.viterbi(emissions, transitions, mask)
    return {"path": path, "score": score, "nll": crf.nll(emissions, transitions, gold, mask)}

  module.decode = decode
  tf.saved_model.save(module, str(tmp_path / "export"))
  loaded = tf.saved_model.load(str(tmp_path / "export"))
  for batch, steps in [(2, 5), (1, 1), (0, 3)]:
    emissions = tf.random.stateless_normal([batch, steps, tags], seed=[batch, steps])
    mask = tf.sequence_mask(tf.fill([batch], steps), steps)
    gold = tf.zeros([batch, steps], tf.int32)
    exported, eager = loaded.decode(emissions, mask, gold), decode(emissions, mask, gold)
    assert exported["path"].shape == (batch, steps)
    for key in eager:
      np.testing.assert_allclose(exported[key], eager[key], rtol=1e-6)
