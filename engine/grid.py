"""A grid of runs: every task x model x topology asked for, each resolved and checked before any is started.

With one run, --model_dir is its directory; with several it is the root of
<task>[-<dataset>]/<model>[-<topology>] run directories (the dataset and topology appear only when chosen).
"""

import dataclasses

import tasks
from engine import config, run, run_dir
from tasks.base import DataConfig


@dataclasses.dataclass(frozen=True)
class PlannedRun:
  config: config.RunConfig
  path: str


def plan(task_names, model_names, topologies=None, overrides=None, data=DataConfig(), options=None, model_dir=None,
         check=True, init_from=()):
  """[PlannedRun] for every combination, all validated (settings, data, run directories) before any is trained
  (with check=False: the settings only, as --print_config shows them).

  Args:
    task_names, model_names, topologies: lists of names (topologies: None or [None] for each task's default).
    overrides: hyperparameters set explicitly (name -> value; None means unset).
    data: where the data is (DataConfig).
    options: task options set explicitly.
    model_dir: the run directory (one run) or the grid's root (default "runs").
    init_from: run directories every run starts from (their embedding and recurrent weights; engine/transfer.py).

  Example:
  >>> runs = plan(["mnist"], ["lstm", "gru"], model_dir="runs/", data=DataConfig(data_dir="../shared/tfds"))
  >>> [r.path for r in runs]
  ['runs/mnist/lstm', 'runs/mnist/gru']
  """
  combos = [(t, m, topology) for t in task_names for m in model_names for topology in (topologies or [None])]
  combos = list(dict.fromkeys(combos))
  planned = []
  for task_name, model_name, topology in combos:
    if len(combos) == 1 and model_dir:
      path = model_dir
    else:
      default_topology = tasks.get(task_name).topologies[0]
      path = run_dir.grid_path(model_dir or "runs", task_name, model_name,
                               topology=None if topology in (None, default_topology) else topology,
                               dataset=(options or {}).get("dataset"))
    resuming = run_dir.RunDir(path).stored_config() if init_from else None
    planned.append(PlannedRun(config.resolve(task_name, model_name, topology, overrides, data, options, init_from,
                                             resuming), path))
  for planned_run in planned if check else ():
    run.check(planned_run.config, planned_run.path)
  return planned
