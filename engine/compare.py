"""Comparing finished runs: a markdown table, and charts of each task's headline metric, its trade-off against
training speed, and learning curves."""

import logging
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.files import read_json  # noqa: E402

log = logging.getLogger("rnnzoo")


def collect(root):
  """metrics.json of every run directory below root, with its path under "run"."""
  runs = []
  for directory, _, files in sorted(os.walk(root)):
    if "metrics.json" in files and "config.json" in files:
      path = os.path.join(directory, "metrics.json")
      try:
        metrics = read_json(path)
        _check_metrics(metrics)
        runs.append({**metrics, "run": os.path.relpath(directory, root)})
      except (OSError, ValueError) as e:  # one damaged run should not hide the others
        log.warning("Skipped %s: unreadable (%s).", path, e)
  return sorted(runs, key=lambda r: (r.get("task", ""), r.get("model", ""), r.get("topology", "")))


def _check_metrics(metrics):
  """Raises ValueError unless metrics.json holds what the table and chart read: an object with numeric figures."""
  if not isinstance(metrics, dict):
    raise ValueError(f"it holds a {type(metrics).__name__}, not an object")
  for part in ("validation", "test"):
    figures = metrics.get(part) or {}
    if not isinstance(figures, dict):
      raise ValueError(f"its {part!r} is a {type(figures).__name__}, not an object")
    for name, value in figures.items():
      if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"its {part} figure {name!r} is {value!r}, not a number")
  for name in ("num_params", "train_seconds", "train_examples_per_second"):
    value = metrics.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
      raise ValueError(f"its {name!r} is {value!r}, not a number")


def markdown(rows):
  """A markdown table of rows (dicts with the same keys)."""
  if not rows:
    return ""
  header = list(rows[0])
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(row.get(key, "")) for key in header) + " |" for row in rows]
  return "\n".join(lines) + "\n"


def _figure(value, digits=4):
  if value is None:
    return "—"
  return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}g}"


def table(runs):
  metric_names = sorted({name for r in runs for name in (r.get("test") or {})})
  header = ["run", "task", "dataset", "model", "topology", "params", *[f"test {m}" for m in metric_names], "train min",
            "examples/s", "status"]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for r in runs:
    test = r.get("test") or {}
    cells = [r["run"], r.get("task", "?"), r.get("dataset", "?"), r.get("model", "?"), r.get("topology", "?"), _figure(r.get("num_params")),
             *[_figure(test.get(m)) for m in metric_names],
             _figure((r.get("train_seconds") or 0) / 60, 3), _figure(r.get("train_examples_per_second")),
             r.get("status", "?")]
    lines.append("| " + " | ".join(str(c) for c in cells) + " |")
  return "\n".join(lines) + "\n"


def charts(runs, prefix):
  """Every chart of the runs: PREFIX.png (each task's test score and speed), PREFIX_tradeoff.png (score against
  training throughput) and PREFIX_curves.png (the monitored validation figure by epoch). The paths written."""
  written = []
  for suffix, draw in (("", chart), ("_tradeoff", tradeoff), ("_curves", curves)):
    if draw(runs, f"{prefix}{suffix}.png"):
      written.append(f"{prefix}{suffix}.png")
  return written


def _by_task(runs):
  """{(task, monitored metric): completed runs that have it}."""
  by_task = {}
  for r in runs:
    metric = (r.get("info") or {}).get("monitor", "accuracy")
    if r.get("status") == "completed" and metric in (r.get("test") or {}):
      by_task.setdefault((r["task"], metric), []).append(r)
  return by_task


def tradeoff(runs, path):
  """Per task, each run's test score against its training examples per second: what an architecture buys."""
  by_task = _by_task(runs)
  if not by_task:
    return False
  fig, axes = plt.subplots(1, len(by_task), figsize=(5 * len(by_task), 4), squeeze=False)
  for ax, ((task, metric), task_runs) in zip(axes[0], sorted(by_task.items())):
    for r in task_runs:
      speed = r.get("train_examples_per_second") or 0
      ax.scatter(speed, r["test"][metric], color="tab:blue")
      ax.annotate(os.path.basename(r["run"]), (speed, r["test"][metric]), fontsize=7, xytext=(3, 3),
                  textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("training examples/s (log)")
    ax.set_ylabel(f"test {metric}")
    ax.set_title(task, fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return True


def curves(runs, path):
  """Per task, each run's monitored validation figure after every epoch (metrics.json's history)."""
  by_task = {key: [r for r in rs if r.get("history")] for key, rs in _by_task(runs).items()}
  by_task = {key: rs for key, rs in by_task.items() if rs}
  if not by_task:
    return False
  fig, axes = plt.subplots(1, len(by_task), figsize=(5 * len(by_task), 4), squeeze=False)
  for ax, ((task, metric), task_runs) in zip(axes[0], sorted(by_task.items())):
    for r in task_runs:
      epochs = [h["epoch"] for h in r["history"] if metric in h.get("validation", {})]
      values = [h["validation"][metric] for h in r["history"] if metric in h.get("validation", {})]
      ax.plot(epochs, values, marker=".", label=os.path.basename(r["run"]))
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric}")
    ax.set_title(task, fontsize=10)
    ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return True


def chart(runs, path):
  """One row per task: each model's test score (on the metric the task selects by) and its training speed."""
  by_task = _by_task(runs)
  if not by_task:
    return False
  tallest = max(map(len, by_task.values()))
  fig, axes = plt.subplots(len(by_task), 2, figsize=(11, len(by_task) * (0.9 + 0.35 * tallest)), squeeze=False)
  for (score_ax, speed_ax), ((task, metric), task_runs) in zip(axes, sorted(by_task.items())):
    labels = [os.path.basename(r["run"]) for r in task_runs]   # the run directory's name tells runs apart
    scores = [r["test"][metric] for r in task_runs]
    speeds = [r.get("train_examples_per_second") or 0 for r in task_runs]
    _bars(score_ax, labels, scores, f"{task}: test {metric}", "tab:blue", "{:.4g}")
    if metric == "accuracy":  # differences live in the last few points: zoom in on them
      score_ax.set_xlim(max(0.0, min(scores) - 0.02), min(1.0, max(scores) + 0.01))
    _bars(speed_ax, labels, speeds, f"{task}: training examples/s", "tab:orange", "{:,.0f}")
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return True


def _bars(ax, labels, values, title, color, number_format):
  bars = ax.barh(labels, values, color=color)
  ax.bar_label(bars, labels=[number_format.format(v) for v in values], padding=2, fontsize=8)
  ax.set_title(title, fontsize=10)
  ax.margins(x=0.15)
  ax.invert_yaxis()
