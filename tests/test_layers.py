"""The layers of the code base import one way: common <- models <- tasks <- engine <- train.py / evaluate.py."""

import ast
import pathlib

REPO = pathlib.Path(__file__).resolve().parent.parent
LAYERS = {"common": 0, "models": 1, "tasks": 2, "engine": 3, "train": 4, "evaluate": 4, "benchmarks": 5}


def _layer(module):
  return LAYERS.get(module.split(".")[0])


def _imports(path):
  tree = ast.parse(path.read_text(encoding="utf-8"))
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      yield node.module


def test_no_module_imports_against_the_direction_of_the_layers():
  wrong = []
  for path in sorted(REPO.glob("**/*.py")):
    relative = path.relative_to(REPO)
    if relative.parts[0] in ("tests",) or relative.parts[0].startswith("."):
      continue
    own = _layer(".".join(relative.with_suffix("").parts))
    for imported in _imports(path):
      theirs = _layer(imported)
      if own is not None and theirs is not None and theirs > own:
        wrong.append(f"{relative} imports {imported}")
  assert not wrong, "imports against the layers: " + "; ".join(wrong)


def test_the_checker_sees_a_wrong_import(tmp_path):
  module = tmp_path / "bad.py"
  module.write_text("from engine.config import RunConfig\nimport tasks\n")
  assert list(_imports(module)) == ["engine.config", "tasks"]
  assert _layer("engine.config") > _layer("models.registry")
