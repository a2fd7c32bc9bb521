"""Test metrics of a run or a SavedModel, or a comparison of many runs.

    python evaluate.py --model_dir=runs/sentiment/bilstm   # one run (or its export/): test metrics
    python evaluate.py --runs=runs/                        # every run below: table + chart
    python evaluate.py --model_dir=runs/textgen/lstm --prime="ROMEO:" --num_chars=500   # and a sample
    python evaluate.py --model_dir=runs/mnist/lstm-one_to_many --classifier=runs/mnist/lstm  # drawn digits
    python evaluate.py --model_dir=runs/translation/bigru_attention --beam_size=5   # BLEU and sample translations

One run is evaluated through its exported SavedModel on raw test inputs, exactly as it is served.
"""

import dataclasses
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

import tensorflow as tf  # noqa: E402

import tasks  # noqa: E402
from engine import cli, compare, export  # noqa: E402
from engine.config import RunConfig  # noqa: E402
from common.errors import UserError  # noqa: E402
from tasks.mnist_drawing import GRID_COLUMNS, MnistDrawing, save_grid  # noqa: E402

flags.DEFINE_string("model_dir", None, "A run directory, or a SavedModel exported by train.py.")
flags.DEFINE_string("runs", None, "A folder of run directories to compare.")
flags.DEFINE_integer("batch_size", None, "Examples per serving call (default: the run's training batch size; "
                     "textgen cuts the test text into this many pieces, as training did).")
flags.DEFINE_string("output", None, "Where the comparison goes: OUTPUT.md and OUTPUT.png (default <runs>/comparison); "
                    "for a drawing run, the PNG of drawn digits (default <model_dir>/drawn_digits.png).")
flags.DEFINE_string("prime", None, "textgen: print a sample that continues this text.")
flags.DEFINE_integer("num_chars", 500, "textgen: characters to sample after --prime.")
flags.DEFINE_float("temperature", 0.8, "Sampling temperature; 0 is greedy.")
flags.DEFINE_integer("top_k", 0, "textgen: sample among the k likeliest characters (0: all).")
flags.DEFINE_integer("beam_size", None, "translation: beam width (default: the run's --beam_size; 1: greedy).")
flags.DEFINE_string("classifier", None, "mnist one_to_many: an mnist many_to_one run (or export) that reads the "
                    "drawn digits.")
flags.DEFINE_integer("samples_per_label", 100, "mnist one_to_many: digits drawn per label (the PNG shows the "
                     f"first {GRID_COLUMNS}).")

FLAGS = flags.FLAGS


def evaluate_one(path):
  served, config = export.load(path)
  if FLAGS.prime is not None and not hasattr(served, "generate"):
    raise UserError(f"--prime applies to text generation runs; {path} is a {config['task']} run.")
  run_config = RunConfig.from_json(config)
  # The data flags of this machine, not those of the training machine; the run's own --data_file by default.
  data = cli.data_config()
  data = dataclasses.replace(data, data_file=data.data_file or run_config.data.data_file)
  options = run_config.options
  if FLAGS.beam_size is not None:
    if "beam_size" not in options:
      raise UserError(f"--beam_size applies to translation runs; {path} is a {config['task']} run.")
    options = {**options, "beam_size": FLAGS.beam_size}
  task = tasks.create(dataclasses.replace(run_config, data=data, options=options))
  if FLAGS.classifier and not isinstance(task, MnistDrawing):
    raise UserError(f"--classifier applies to mnist one_to_many runs; {path} is a {config['task']} "
                    f"{config['topology']} run.")
  classifier = _classifier() if FLAGS.classifier else None  # checked before the long test pass, not after
  task.check_data()
  result = {"task": config["task"], "model": config["model"]["name"], "topology": config["topology"],
            "test": task.evaluate_served(served, FLAGS.batch_size or config["training"]["batch_size"])}
  if FLAGS.prime is not None:
    try:
      sample = served.generate(prime=FLAGS.prime, num_chars=FLAGS.num_chars, top_k=FLAGS.top_k,
                               temperature=FLAGS.temperature)["text"].numpy().decode("utf-8")
    except tf.errors.InvalidArgumentError as e:  # the export's own input checks
      raise UserError(f"--prime={FLAGS.prime!r}: {export.input_error(e)}.") from None
    result["sample"] = FLAGS.prime + sample
  if hasattr(task, "samples"):
    result["samples"] = [{"source": s, "reference": r, "translation": t} for s, r, t in task.samples()]
    result["info"] = task.notes
  if isinstance(task, MnistDrawing):
    result.update(_drawn_digits(task, served, classifier, path))
  return result


def _check_numeric_flags():
  """Every out-of-range number is refused before any run is loaded."""
  for name, low, note in (("batch_size", 1, ""), ("num_chars", 1, ""), ("temperature", 0, " (0: greedy)"),
                          ("top_k", 0, " (0: all)"), ("samples_per_label", 1, "")):
    value = FLAGS[name].value
    if value is not None and value < low:
      raise UserError(f"--{name}={value} is invalid; it must be >= {low}{note}.")


def _classifier():
  classifier, classifier_config = export.load(FLAGS.classifier)
  if (classifier_config["task"], classifier_config["topology"]) != ("mnist", "many_to_one"):
    raise UserError(f"--classifier={FLAGS.classifier} is a {classifier_config['task']} "
                    f"{classifier_config['topology']} run; it must be an mnist many_to_one run.")
  return classifier


def _drawn_digits(task, served, classifier, path):
  """Draws --samples_per_label digits of every label into a PNG; with --classifier, how many it recognises."""
  output = FLAGS.output or os.path.join(path, "drawn_digits")
  images, labels, recognised = task.draw_and_recognise(served, classifier, FLAGS.samples_per_label,
                                                       FLAGS.temperature)
  save_grid(images, labels, f"{output}.png")
  result = {"drawing": f"{output}.png", "temperature": FLAGS.temperature, "digits_drawn": len(labels)}
  if recognised is None:
    result["recognised"] = "pass --classifier=<an mnist many_to_one run> to count the digits it recognises"
  else:
    result["recognised"] = recognised
  return result


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
  _check_numeric_flags()
  if FLAGS.runs:
    compare_runs(FLAGS.runs)
  else:
    result = evaluate_one(FLAGS.model_dir)
    sample = result.pop("sample", None)
    print(json.dumps(result, indent=2))
    if sample is not None:
      print(sample)


if __name__ == "__main__":
  app.run(main)
