"""Test metrics of a run or a SavedModel, or a comparison of many runs.

    python evaluate.py --model_dir=runs/sentiment/bilstm   # one run (or its export/): test metrics
    python evaluate.py --runs=runs/                        # every run below: table + chart

One run is evaluated through its exported SavedModel on raw test inputs, exactly as it is served.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

import tasks  # noqa: E402
from engine import cli, compare, export  # noqa: E402
from engine.errors import UserError  # noqa: E402

flags.DEFINE_string("model_dir", None, "A run directory, or a SavedModel exported by train.py.")
flags.DEFINE_string("runs", None, "A folder of run directories to compare.")
flags.DEFINE_integer("batch_size", 256, "Examples per serving call.")
flags.DEFINE_string("output", None, "Where the comparison goes: OUTPUT.md and OUTPUT.png (default <runs>/comparison).")

FLAGS = flags.FLAGS


def evaluate_one(path):
  serve, config = export.load(path)
  task = tasks.get(config["task"])(cli.data_config())
  task.check_data()
  return {"task": config["task"], "model": config["model"]["name"], "topology": config["topology"],
          "test": task.evaluate_served(serve, FLAGS.batch_size)}


def compare_runs(root):
  if not os.path.isdir(root):
    raise UserError(f"--runs={root} is not a directory.")
  runs = compare.collect(root)
  if not runs:
    raise UserError(f"--runs={root} holds no run directories (folders with config.json and metrics.json).")
  output = FLAGS.output or os.path.join(root, "comparison")
  text = compare.table(runs)
  with open(f"{output}.md", "w", encoding="utf-8") as f:
    f.write(text)
  drawn = compare.chart(runs, f"{output}.png")
  print(text)
  print(f"Wrote {output}.md" + (f" and {output}.png" if drawn else " (no completed run to chart)"))


@cli.user_errors_exit
def main(argv):
  if bool(FLAGS.model_dir) == bool(FLAGS.runs):
    raise UserError("pass exactly one of --model_dir=<run or SavedModel> and --runs=<folder of runs>.")
  if FLAGS.batch_size < 1:
    raise UserError(f"--batch_size={FLAGS.batch_size} is invalid; it must be >= 1.")
  if FLAGS.runs:
    compare_runs(FLAGS.runs)
  else:
    print(json.dumps(evaluate_one(FLAGS.model_dir), indent=2))


if __name__ == "__main__":
  app.run(main)
