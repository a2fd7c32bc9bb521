"""Train a recurrent model on a task; checkpoint, evaluate on test, export a SavedModel.

    python train.py --model=bilstm --task=sentiment --data_dir=DIR
    python train.py --model=lstm,gru,rnn --task=mnist --model_dir=runs/    # a grid: one run each

Hyperparameter flags default to unset: an explicit flag beats the task's tuned defaults for that
model, which beat the preset. Starting a killed run again with the same command resumes it.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

import models  # noqa: E402
import tasks  # noqa: E402
from engine import cli, config, distribute, run, run_dir  # noqa: E402

flags.DEFINE_list("model", None, f"Model preset(s), comma-separated: {', '.join(models.names())}.")
flags.DEFINE_list("task", None, f"Task(s), comma-separated: {', '.join(tasks.names())}.")
flags.DEFINE_list("topology", None, f"Topology: {', '.join(models.TOPOLOGIES)} (default: the task's own).")
flags.DEFINE_string("model_dir", None, "The run directory; with a grid, the root of <task>[-<dataset>]/<model>[-<topology>] "
                    "run directories. Default: runs/<task>/<model>.")
flags.DEFINE_integer("epochs", None, "Maximum training epochs.")
flags.DEFINE_integer("batch_size", None, "Examples per training step.")
flags.DEFINE_float("learning_rate", None, "Adam's learning rate.")
flags.DEFINE_float("lr_decay", None, "Multiply the learning rate by this after every epoch (1: constant).")
flags.DEFINE_float("clipnorm", None, "Clip the global gradient norm to this (0: off); guards against exploding gradients.")
flags.DEFINE_float("ema_momentum", None, "Validate, keep and export an exponential moving average of the weights "
                   "with this momentum (e.g. 0.999; 0: off). Averaging smooths out the last steps' noise.")
flags.DEFINE_integer("patience", None, "Stop after this many epochs without validation improvement (0: never).")
flags.DEFINE_integer("seed", None, "Seed for weights, dropout and shuffling.")
flags.DEFINE_integer("checkpoint_every_steps", None, "Also checkpoint every this many training steps, so a killed "
                     "run redoes at most that many (default: at each epoch's end and every 5 minutes).")
flags.DEFINE_boolean("mixed_precision", None, "float16 compute, float32 weights (NVIDIA GPUs with compute "
                     "capability >= 7.0; refused elsewhere).")
flags.DEFINE_boolean("jit_compile", None, "XLA-compile the training step (often faster on GPU; slower for LSTMs on CPU).")
flags.DEFINE_enum("strategy", "auto", distribute.STRATEGIES, "tf.distribute strategy: auto (multi_worker when "
                  "TF_CONFIG lists several workers, mirrored on several GPUs, else one device), one_device, "
                  "mirrored (all local GPUs) or multi_worker (TF_CONFIG; see docs/distributed.md).")
flags.DEFINE_boolean("deterministic", None, "Deterministic ops (tf.config.experimental.enable_op_determinism): "
                     "the same command gives the same figures, at some cost in speed.")
flags.DEFINE_integer("units", None, "Units per recurrent layer (and per direction).")
flags.DEFINE_integer("layers", None, "Recurrent layers.")
flags.DEFINE_float("dropout", None, "Dropout on embeddings, between recurrent layers and before the head.")
flags.DEFINE_integer("embedding_dim", None, "Token embedding size (token inputs only).")
flags.DEFINE_string("pooling", None, f"many_to_one summary of the sequence: {', '.join(models.POOLINGS)}.")
flags.DEFINE_string("embedding_dropout", None, "What --dropout drops of token embeddings: word (whole tokens), "
                    "word_type (every occurrence of a word in a sequence at once) or channel (the same embedding "
                    "channels at every step).")
flags.DEFINE_string("attention", None, f"seq2seq: how the decoder attends to the encoder: {', '.join(models.ATTENTIONS)} "
                    "(additive: Bahdanau; multiplicative: Luong's general score).")
OPTION_FLAGS = cli.define_task_option_flags()
flags.mark_flags_as_required(["model", "task"])

FLAGS = flags.FLAGS
HPARAM_FLAGS = (*config.MODEL_FIELDS, *config.TRAINING_DEFAULTS)


def plan():
  """(config, run directory) for every run asked for, all validated before any is started."""
  grid = [(t, m, topology) for t in FLAGS.task for m in FLAGS.model for topology in (FLAGS.topology or [None])]
  overrides = {name: FLAGS[name].value for name in HPARAM_FLAGS}
  options = cli.task_options(OPTION_FLAGS)
  runs = []
  for task_name, model_name, topology in dict.fromkeys(grid):
    resolved = config.resolve(task_name, model_name, topology, overrides, cli.data_config(), options)
    if len(grid) == 1 and FLAGS.model_dir:
      path = FLAGS.model_dir
    else:
      default_topology = tasks.get(task_name).topologies[0]
      path = run_dir.grid_path(FLAGS.model_dir or "runs", task_name, model_name,
                               topology=None if resolved.topology == default_topology else resolved.topology,
                               dataset=options.get("dataset"))
    runs.append((resolved, path))
  for resolved, path in runs:
    run.check(resolved, path)
  return runs


@cli.user_errors_exit
def main(argv):
  strategy = distribute.make_strategy(FLAGS.strategy)   # before any other TensorFlow op
  for resolved, path in plan():
    run.train_and_export(resolved, path, strategy)


if __name__ == "__main__":
  app.run(main)
