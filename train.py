"""Train a recurrent model on a task; checkpoint, evaluate on test, export a SavedModel.

    python train.py --model=bilstm --task=sentiment --data_dir=DIR
    python train.py --model=lstm,gru,rnn --task=mnist --model_dir=runs/    # a grid: one run each

Hyperparameter flags default to unset: an explicit flag beats the task's tuned defaults for that
model, which beat the preset. Starting a killed run again with the same command resumes it.
"""

import json
import os

from common import quiet

quiet.import_tensorflow()   # before anything else imports it: its start-up lines stay off the console

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
flags.DEFINE_list("init_from", None, "Start from the weights of earlier runs: their token embedding and recurrent "
                  "layers, matched by role, and their vocabulary (e.g. a language_model run; for a bidirectional "
                  "model a forward and a --backwards one, comma-separated). The head starts fresh.")
flags.DEFINE_boolean("print_config", False, "Print the resolved config.json of every run asked for (all task tuned "
                     "defaults applied) and exit without training.")
HYPERPARAMETER_FLAGS = cli.define_flags(config.HYPERPARAMETERS,
                                        {name: config.defaults_in_words(name) for name in config.HYPERPARAMETERS})
OPTION_FLAGS = cli.define_task_flags("train")
flags.adopt_module_key_flags(cli)   # --help lists every flag that applies, not only this file's
flags.mark_flags_as_required(["model", "task"])

FLAGS = flags.FLAGS


@cli.user_errors_exit
def main(argv):
  request = (FLAGS.task, FLAGS.model, FLAGS.topology, cli.explicit(HYPERPARAMETER_FLAGS), cli.data_config(),
             cli.explicit(OPTION_FLAGS), FLAGS.model_dir)
  more = {"init_from": tuple(os.path.abspath(path) for path in FLAGS.init_from or ())}   # replayable from anywhere
  if FLAGS.print_config:
    for planned_run in grid.plan(*request, check=False, **more):
      print(json.dumps({"model_dir": planned_run.path, **planned_run.config.to_json()}, indent=2))
    return
  strategy = distribute.make_strategy(FLAGS.strategy)   # before any other TensorFlow op
  planned = grid.plan(*request, **more)
  for planned_run in planned:
    run.train_and_export(planned_run.config, planned_run.path, strategy)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
