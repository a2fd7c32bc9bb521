"""A user's own time series: a CSV file with a header, one row per time step in time order."""

import csv
import io

import numpy as np

from common.errors import UserError
from common.files import read_data_file


def read(path, time_column, columns=(), encoding="utf-8"):
  """(values float32 [rows, columns], column names): `columns`, or every column but the time column."""
  text = read_data_file(path, newline="", encoding=encoding).removeprefix("\ufeff")   # a byte-order mark is not part of the header
  reader = csv.reader(io.StringIO(text))
  numbered = [(reader.line_num, row) for row in reader if row]     # blank lines carry no time step
  rows = [row for _, row in numbered]
  if not rows:
    raise UserError(f"--data_file={path} is empty; it needs a header line and one row per time step.")
  header = [name.strip() for name in rows[0]]
  repeated = sorted({name for name in header if header.count(name) > 1})
  if repeated:
    raise UserError(f"--data_file={path}, line {numbered[0][0]}: the header names column "
                    f"{', '.join(map(repr, repeated))} more than once; every column needs a name of its own (rename "
                    "the repeats).")
  if time_column not in header:
    raise UserError(f"--data_file={path} has no time column {time_column!r} (--time_column); its columns are: "
                    f"{', '.join(header)}.")
  names = list(columns) or [name for name in header if name != time_column]
  missing = [name for name in names if name not in header]
  if missing:
    raise UserError(f"--data_file={path} has no column {', '.join(map(repr, missing))}; its columns are: "
                    f"{', '.join(header)}.")
  if not names:
    raise UserError(f"--data_file={path} has only the time column {time_column!r}; it needs value columns.")
  indices = [header.index(name) for name in names]
  values = np.empty((len(rows) - 1, len(names)), np.float32)
  for step, (line, row) in enumerate(numbered[1:]):
    if len(row) != len(header):
      raise UserError(f"--data_file={path}, line {line}: {len(row)} fields where the header has {len(header)}.")
    for j, i in enumerate(indices):
      try:
        values[step, j] = float(row[i])
      except ValueError:
        raise UserError(f"--data_file={path}, line {line}, column {names[j]!r}: {row[i]!r} is not a number "
                        "(missing values must be filled in first).") from None
  if not np.isfinite(values).all():
    line = numbered[1 + int(np.argwhere(~np.isfinite(values))[0, 0])][0]
    raise UserError(f"--data_file={path}, line {line}: NaN or Inf values cannot be forecast; fill them in first.")
  return values, names
