"""Every task's export as TF Serving sees it: a numbered version folder, a serving_default signature of batched
inputs only (TF Serving's row format needs a batch axis on every input), readable by `saved_model_cli show --all`
and answering `saved_model_cli run` on the inputs README's REST examples send."""

import os
import re
import subprocess

import numpy as np
import pytest

from common import exports
from engine import config, run
from tasks.base import DataConfig
from tests.test_tagging import ner_corpus

TINY = {"units": 8, "embedding_dim": 8, "epochs": 1, "batch_size": 16}


def _sine_csv(path):
  t = np.arange(300)
  rows = "".join(f"t{i},{np.sin(i / 5):.4f},{5 + np.cos(i / 7):.4f}\n" for i in t)
  path.write_text("date,a,b\n" + rows)
  return str(path)


def _files(tmp_path):
  (tmp_path / "verse.txt").write_text("to be or not to be, that is the question.\n" * 200, encoding="utf-8")
  (tmp_path / "pairs.tsv").write_text("ein hund .\ta dog .\nzwei katzen .\ttwo cats .\n" * 40, encoding="utf-8")
  (tmp_path / "ner.txt").write_text(ner_corpus(60), encoding="utf-8")
  return tmp_path


# task, topology, options, data file, the REST example's inputs (saved_model_cli --input_exprs), output keys
CASES = {
    "sentiment": ("many_to_one", {}, None, "text=['A wonderful film.', 'Dull.']",
                  {"label", "positive_probability", "probabilities"}),
    "mnist": ("many_to_one", {}, None, f"images={[[[0] * 28] * 28] * 2}", {"label", "probabilities"}),
    "mnist-drawing": ("one_to_many", {}, None, "labels=[3, 7];temperature=[0.0, 0.8]", {"images"}),
    "textgen": ("many_to_many", {"sequence_length": 16}, "verse.txt",
                "prime=['to be', 'that'];num_chars=[20, 5];temperature=[0.8, 0.0]", {"text"}),
    "language_model": ("many_to_many", {"sampled_softmax": 4}, "verse.txt",
                       "prime=['to be', 'that'];num_words=[5, 2];temperature=[0.8, 0.0]", {"text"}),
    "forecast": ("many_to_one", {"input_length": 24, "horizon": 6}, "sine.csv",
                 f"window={[[[0.5, 5.0]] * 24] * 2}", {"forecast"}),
    "translation": ("seq2seq", {}, "pairs.tsv", "source=['ein hund .', 'zwei katzen .']", {"translation"}),
    "tagging": ("many_to_many", {}, "ner.txt", "sentences=['Anna visits Paris .', 'Acme calls Bert .']",
                {"tags", "lengths", "known", "probabilities"}),
}


def _cli(*args):
  result = subprocess.run(["saved_model_cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_saved_model_cli_shows_and_runs_every_tasks_serving_default(case, tmp_path, mock_tfds):
  topology, options, data_file, inputs, outputs = CASES[case]
  task = case.split("-")[0]
  files = _files(tmp_path)
  if data_file == "sine.csv":
    data = DataConfig(data_file=_sine_csv(tmp_path / "sine.csv"))
  else:
    data = DataConfig(data_file=str(files / data_file)) if data_file else DataConfig()
  model = {"translation": "gru", "tagging": "bilstm"}.get(task, "lstm")
  resolved = config.resolve(task, model, topology, TINY, data, options)
  path = tmp_path / "run"
  run.train_and_export(resolved, str(path))
  version = exports.find(str(path))
  assert version == str(path / "export" / "1")   # TF Serving: <model base path>/<version>/saved_model.pb
  shown = _cli("show", "--dir", version, "--all")
  default = shown[shown.index("signature_def['serving_default']"):]
  default = default[:default.find("signature_def[", 10) if "signature_def[" in default[10:] else None]
  shapes = re.findall(r"shape: \(([^)]*)\)", default.split("output(s)")[0])
  assert shapes and all(s.split(",")[0].strip() == "-1" for s in shapes), default   # batched inputs only
  ran = _cli("run", "--dir", version, "--tag_set", "serve", "--signature_def", "serving_default",
             "--input_exprs", inputs)
  assert set(re.findall(r"Result for output key (\w+):", ran)) == outputs, ran
