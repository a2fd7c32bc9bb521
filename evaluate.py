"""Test metrics of a run or a SavedModel, or a comparison of many runs.

    python evaluate.py --model_dir=runs/sentiment/bilstm   # one run (or its export/): test metrics
    python evaluate.py --runs=runs/                        # every run below: table + chart
    python evaluate.py --model_dir=runs/textgen/lstm --prime="ROMEO:" --num_chars=500   # and a sample
    python evaluate.py --model_dir=runs/mnist/lstm-one_to_many --classifier=runs/mnist/lstm  # drawn digits
    python evaluate.py --model_dir=runs/translation/bigru_attention --beam_size=5   # BLEU and sample translations

One run is evaluated through its exported SavedModel on raw test inputs, exactly as it is served.
Task settings (--prime, --beam_size, --classifier, ...) are declared by the tasks; evaluate.py knows none.
"""

import json
import os

from common import quiet

quiet.import_tensorflow()   # before anything else imports it: its start-up lines stay off the console

from absl import app, flags  # noqa: E402

from common.errors import UserError  # noqa: E402
from common.settings import Setting  # noqa: E402
from engine import cli, compare, evaluation  # noqa: E402

flags.DEFINE_string("model_dir", None, "A run directory, or a SavedModel exported by train.py.")
flags.DEFINE_string("runs", None, "A folder of run directories to compare.")
flags.DEFINE_string("output", None, "With --runs: where the comparison goes, OUTPUT.md and OUTPUT.png (default "
                    "<runs>/comparison). With --model_dir: the folder for the pictures a task draws (default the run "
                    "directory).")
OWN_FLAGS = cli.define_flags({"batch_size": Setting(
    None, "Examples per serving call (default: the run's training batch size; textgen cuts the test text into "
          "this many pieces, as training did).", kind=int, at_least=1)})
TASK_FLAGS = cli.define_task_flags("evaluate")
flags.adopt_module_key_flags(cli)   # --help lists every flag that applies, not only this file's

FLAGS = flags.FLAGS


def compare_runs(root):
  if not os.path.isdir(root):
    raise UserError(f"--runs={root} is not a directory.")
  runs = compare.collect(root)
  if not runs:
    raise UserError(f"--runs={root} holds no run directories (folders with config.json and metrics.json).")
  output = FLAGS.output or os.path.join(root, "comparison")
  text = compare.table(runs)
  try:
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(f"{output}.md", "w", encoding="utf-8") as f:
      f.write(text)
    drawn = compare.charts(runs, output)
  except OSError as e:
    print(text)
    raise UserError(f"the comparison cannot be written to {output}.md / .png ({e.strerror}); pass "
                    "--output=<a writable path prefix>.") from None
  print(text)
  print(f"Wrote {output}.md" + (f" and {', '.join(drawn)}" if drawn else " (no completed run to chart)"))


@cli.user_errors_exit
def main(argv):
  if bool(FLAGS.model_dir) == bool(FLAGS.runs):
    raise UserError("pass exactly one of --model_dir=<run or SavedModel> and --runs=<folder of runs>.")
  own, settings = cli.explicit(OWN_FLAGS), cli.explicit(TASK_FLAGS)   # checked before any run is read
  if FLAGS.runs:
    compare_runs(FLAGS.runs)
  else:
    result = evaluation.evaluate_export(FLAGS.model_dir, cli.data_config(), settings, own.get("batch_size"),
                                        FLAGS.output)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    for number, sample in enumerate(result.get("samples", []), start=1):   # as they read, after the JSON
      print(f"\n--- sample {number}\n" + "\n".join(f"{key}: {value}" for key, value in sample.items()))
    for name, rows in result.get("tables", {}).items():
      print(f"\n{name}\n\n{compare.markdown(rows)}")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
