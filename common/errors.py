"""The one exception type for user mistakes.

Raised for anything a user can fix (an unknown name, an impossible pair, a bad value, missing
data, a corrupt checkpoint, bad serving input); train.py and evaluate.py print its message and
exit with status 2 instead of a traceback.
"""


class UserError(Exception):
  """A mistake the user can fix; the message names the bad value and what would work."""


def first_line(error, limit=300):
  """A library exception in one line, for a UserError: TF's messages run to pages of context."""
  text = str(error).strip()
  return text.splitlines()[0][:limit] if text else type(error).__name__
