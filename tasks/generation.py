"""Generating text with a trained causal many_to_many model, inside the graph: what textgen (characters) and
language_model (words) serve. A prime is read, then each chosen id is fed back as the next input."""

import inspect

import tensorflow as tf

from common.errors import UserError
from common.exports import input_error
from common.settings import Setting
from models.decoding import continue_sequences, pick_ids
from models.topologies.many_to_many import Generator
from tasks.base import SAMPLING_TEMPERATURE

PADDING, UNKNOWN = 0, 1   # every vocabulary's first two ids; neither is ever generated


def settings(task, unit, singular, default, most):
  """evaluate.py's settings of a generating task: --prime, --num_<unit>, --temperature, --top_k."""
  return {
      "prime": Setting(None, f"{task} (evaluate.py): also generate a sample that continues this text.", kind=str,
                       train=False, evaluate=True),
      f"num_{unit}": Setting(default, f"{task} (evaluate.py): {singular}s to generate after --prime.", at_least=1,
                             at_most=most, train=False, evaluate=True),
      "temperature": SAMPLING_TEMPERATURE,
      "top_k": Setting(0, f"{task} (evaluate.py): sample among the k likeliest {singular}s.", at_least=0,
                       note="0: all", train=False, evaluate=True),
  }


def sample(served, settings, unit):
  """The export's `generate` endpoint on evaluate.py's settings: the continuation of --prime (a UserError naming the
  prime when the export's own input checks refuse it)."""
  count = f"num_{unit}"
  try:
    return served.generate(prime=settings["prime"], **{count: settings[count]}, top_k=settings["top_k"],
                           temperature=settings["temperature"])["text"].numpy().decode("utf-8")
  except tf.errors.InvalidArgumentError as e:
    raise UserError(f"--prime={settings['prime']!r}: {input_error(e)}.") from None


def generator(model, ids_of, vocabulary, separator, max_steps, unit, singular):
  """generate(prime [N] strings, count [N] int32, temperature [N], top_k scalar) -> {"text": [N]}: each prime's
  continuation, `count` units long, its ids read as vocabulary[id] joined by `separator`; `unit` names the units as
  the length input does (num_chars, num_words), `singular` one of them in messages ("character", "word").

  ids_of(strings [N]) -> ragged int32 ids [N, (units)]; ids of PADDING and UNKNOWN in a prime are skipped.
  Every input is checked inside the graph (tf.debugging asserts naming the input, read back by
  common.exports.input_error); an empty batch is answered with an empty one.
  """
  stepper = Generator(model)
  names = tf.constant(["", ""] + list(vocabulary))

  def generate(prime, count, temperature, top_k):
    prime_ids = ids_of(prime)
    prime_ids = tf.ragged.boolean_mask(prime_ids, prime_ids > UNKNOWN)
    checks = [
        tf.debugging.assert_positive(prime_ids.row_lengths(), message=f"prime holds no {singular} the model knows "
                                     "(it is empty, or all of it is outside the training vocabulary)"),
        tf.debugging.assert_positive(count, message=f"num_{unit} must be >= 1"),
        tf.debugging.assert_less_equal(count, max_steps, message=f"num_{unit} must be <= {max_steps}"),
        tf.debugging.assert_non_negative(temperature, message="temperature must be >= 0"),
        tf.debugging.assert_non_negative(top_k, message=f"top_k must be >= 0 (0: all {unit})"),
        tf.debugging.assert_equal(tf.shape(count), tf.shape(prime), message=f"num_{unit} needs one per prime"),
        tf.debugging.assert_equal(tf.shape(temperature), tf.shape(prime), message="temperature needs one per prime"),
    ]
    with tf.control_dependencies(checks):   # every input passes its check before it is used
      prime_ids, count, temperature = tf.identity(prime_ids), tf.identity(count), tf.identity(temperature)

    def run():
      ids = continue_sequences(
          stepper.step, stepper.start(tf.shape(prime)[0]), prime_ids, count,
          lambda logits: pick_ids(logits, temperature, top_k, banned=(PADDING, UNKNOWN)))
      pieces = tf.ragged.boolean_mask(tf.gather(names, ids), ids != PADDING)   # each row stops at its own count
      return tf.strings.reduce_join(pieces, axis=1, separator=separator)

    # An empty batch is answered with one (a recurrent layer cannot step zero rows).
    return {"text": tf.cond(tf.size(prime) > 0, run, lambda: tf.zeros([0], tf.string))}

  return generate


def endpoints(generate, unit):
  """serving_default's batched generation (TF Serving's row format) and the one-prime `generate` endpoint (scalars
  in, a scalar out, as a person at a prompt asks), with their signatures; the length input is named num_<unit>."""
  count = f"num_{unit}"
  batched = [tf.TensorSpec([None], tf.string, name="prime"), tf.TensorSpec([None], tf.int32, name=count),
             tf.TensorSpec([None], tf.float32, name="temperature")]
  one = [tf.TensorSpec([], tf.string, name="prime"), tf.TensorSpec([], tf.int32, name=count),
         tf.TensorSpec([], tf.float32, name="temperature"), tf.TensorSpec([], tf.int32, name="top_k")]

  def serve(prime, n, temperature):
    return generate(prime, n, temperature, 0)

  def generate_one(prime, n, temperature, top_k):
    return {"text": generate(prime[None], n[None], temperature[None], top_k)["text"][0]}

  return ((_named(serve, [s.name for s in batched]), batched),
          (_named(generate_one, [s.name for s in one]), one))


def _named(function, names):
  """`function` with its parameters named `names` (what callers of the loaded export pass by keyword)."""

  def named(*args, **kwargs):
    given = dict(zip(names, args)) | kwargs
    return function(*(given[name] for name in names))

  named.__signature__ = inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                                           for n in names])
  return named
