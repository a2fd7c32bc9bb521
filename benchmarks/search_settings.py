"""Choosing translation's --beam_size and --length_alpha on validation: BLEU of one export's search at each pair.

    python benchmarks/search_settings.py --model_dir=runs/translation/bigru_attention \
        --manual_dir=../shared/datasets/multi30k [--alphas=0,0.6,0.8,1,1.2,1.5] [--beam_sizes=5] [--split=validation]

Translates the split through the export's translate endpoint (as served: raw strings in) once per pair and prints
a table of cased and lowercased sacreBLEU and the length ratio (translation words / reference words; below 1 BLEU's
brevity penalty applies) and the seconds it took. Choose on validation; the test split is for reporting the value chosen.
"""

import argparse
import dataclasses
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import quiet  # noqa: E402

quiet.import_tensorflow()

import tasks  # noqa: E402
from engine import evaluation  # noqa: E402
from tasks.base import DataConfig  # noqa: E402


def sweep(model_dir, data, beam_sizes, alphas, split):
  """[(beam_size, alpha, Report, seconds translating)] of the export in `model_dir` on `split`, one per pair."""
  served, run_config, data = evaluation.load_export(model_dir, data)
  rows = []
  for beam_size, alpha in itertools.product(beam_sizes, alphas):
    options = {**run_config.options, "beam_size": beam_size, "length_alpha": alpha}
    task = tasks.create(dataclasses.replace(run_config, data=data, options=options))
    started = time.perf_counter()
    report, _ = task.bleu(lambda source: task.translate_served(served, source), split=split)
    rows.append((beam_size, alpha, report, time.perf_counter() - started))
  return rows


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model_dir", required=True, help="a translation run directory or its export/")
  parser.add_argument("--data_dir")
  parser.add_argument("--manual_dir")
  parser.add_argument("--data_file")
  parser.add_argument("--alphas", default="0,0.6,0.8,1,1.2,1.5")
  parser.add_argument("--beam_sizes", default="5")
  parser.add_argument("--split", default="validation", choices=("validation", "test"))
  args = parser.parse_args()
  data = DataConfig(data_dir=args.data_dir, manual_dir=args.manual_dir, data_file=args.data_file)
  rows = sweep(args.model_dir, data, [int(b) for b in args.beam_sizes.split(",")],
               [float(a) for a in args.alphas.split(",")], args.split)
  print(f"\n{args.split}\n\n| beam_size | length_alpha | BLEU | lowercased | length ratio | seconds |\n"
        "|---|---|---|---|---|---|")
  for beam_size, alpha, report, seconds in rows:
    m = report.metrics
    print(f"| {beam_size} | {alpha:g} | {m['bleu']:.2f} | {m['bleu_lowercase']:.2f} | {m['length_ratio']:.3f} "
          f"| {seconds:.0f} |")


if __name__ == "__main__":
  main()
