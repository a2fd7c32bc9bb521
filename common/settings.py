"""A setting declared once: type, default, bounds, choices and help. Flags, validation and their messages are
made from it, so a rule is never written twice.

    epochs: int = setting(10, "Maximum training epochs.", at_least=1)          # a dataclass field
    "beam_size": Setting(5, "Beam width (1: greedy).", at_least=1)             # a task option

`validate(instance)` checks every setting field of a dataclass; `Setting.check(name, value)` one value.
"""

import dataclasses

from common.errors import UserError


@dataclasses.dataclass(frozen=True)
class Setting:
  default: object
  help: str
  choices: tuple = ()
  at_least: float | None = None
  above: float | None = None
  at_most: float | None = None
  below: float | None = None
  note: str = ""             # what a special value means, e.g. "0: off"
  kind: type | None = None   # the value's type when the default (None) does not tell it
  resumable: bool = False    # may change between a run and its resume without making it another run
  train: bool = True         # a setting of the run: a train.py flag, stored in config.json
  evaluate: bool = False     # also (or, with train=False, only) an evaluate.py flag, for evaluating an export

  @property
  def type(self):
    return self.kind or type(self.default)

  def rule(self):
    """The bounds in words: '>= 1', '> 0', 'in (0, 1]'."""
    low = (f"[{self.at_least:g}" if self.at_least is not None else f"({self.above:g}"
           if self.above is not None else None)
    high = (f"{self.at_most:g}]" if self.at_most is not None else f"{self.below:g})"
            if self.below is not None else None)
    if low and high:
      return f"in {low}, {high}"
    if low:
      return (">= " if low[0] == "[" else "> ") + low[1:]
    if high:
      return ("<= " if high[-1] == "]" else "< ") + high[:-1]
    return ""

  def check(self, name, value):
    """Raises UserError naming the flag, the value and what would work."""
    if value is None:
      return
    note = f" ({self.note})" if self.note else ""
    if self.choices:
      if value not in self.choices:
        raise UserError(f"--{name}={value} is unknown; choose one of: {', '.join(map(str, self.choices))}.")
      return
    whole = self.type is int and (isinstance(value, bool) or not isinstance(value, int))
    if whole or (self.type is float and not isinstance(value, (int, float))):
      kind = "a whole number" if self.type is int else "a number"
      rule = self.rule()
      raise UserError(f"--{name}={value} is invalid; it must be {kind}{' ' + rule if rule else ''}{note}.")
    low_ok = ((self.at_least is None or value >= self.at_least) and (self.above is None or value > self.above))
    high_ok = ((self.at_most is None or value <= self.at_most) and (self.below is None or value < self.below))
    if not (low_ok and high_ok):
      raise UserError(f"--{name}={value} is invalid; it must be {self.rule()}{note}.")

  def described(self):
    """The help text with its bounds, for --help."""
    extra = [f"{self.rule()}" if self.rule() else "", self.note]
    extra = "; ".join(e for e in extra if e)
    return f"{self.help}" + (f" [{extra}]" if extra else "")


def setting(default, help, **rules):
  """A dataclass field declared by its Setting (see the module docstring)."""
  return dataclasses.field(default=default, metadata={"setting": Setting(default, help, **rules)})


def settings_of(cls_or_instance):
  """{field name: Setting} of a dataclass's setting fields, in declaration order."""
  return {f.name: f.metadata["setting"] for f in dataclasses.fields(cls_or_instance) if "setting" in f.metadata}


def validate(instance):
  """Checks every setting field of a dataclass instance; returns it."""
  for name, rule in settings_of(instance).items():
    rule.check(name, getattr(instance, name))
  return instance
