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
from engine import cli, config, distribute, grid, run  # noqa: E402

flags.DEFINE_list("model", None, f"Model preset(s), comma-separated: {', '.join(models.names())}.")
flags.DEFINE_list("task", None, f"Task(s), comma-separated: {', '.join(tasks.names())}.")
flags.DEFINE_list("topology", None, f"Topology: {', '.join(models.TOPOLOGIES)} (default: the task's own).")
flags.DEFINE_string("model_dir", None, "The run directory; with a grid, the root of <task>[-<dataset>]/<model>[-<topology>] "
                    "run directories. Default: runs/<task>/<model>.")
flags.DEFINE_enum("strategy", "auto", distribute.STRATEGIES, "tf.distribute strategy: auto (multi_worker when "
                  "TF_CONFIG lists several workers, mirrored on several GPUs, else one device), one_device, "
                  "mirrored (all local GPUs) or multi_worker (TF_CONFIG; see docs/distributed.md).")
HYPERPARAMETER_FLAGS = cli.define_flags(config.HYPERPARAMETERS)
OPTION_FLAGS = cli.define_task_flags("train")
flags.mark_flags_as_required(["model", "task"])

FLAGS = flags.FLAGS


@cli.user_errors_exit
def main(argv):
  strategy = distribute.make_strategy(FLAGS.strategy)   # before any other TensorFlow op
  planned = grid.plan(FLAGS.task, FLAGS.model, FLAGS.topology, cli.explicit(HYPERPARAMETER_FLAGS), cli.data_config(),
                      cli.explicit(OPTION_FLAGS), FLAGS.model_dir)
  for planned_run in planned:
    run.train_and_export(planned_run.config, planned_run.path, strategy)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
