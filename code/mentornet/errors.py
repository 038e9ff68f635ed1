"""The errors this project raises on purpose, under one base class.

Each says in one line what is wrong and what to do; the command line
(`mentornet_cli.cli.guarded`) catches `Error` in one place and prints that
line with a non-zero exit (`Interrupted` with its own code). A bad flag or
input is `BadInput`, a missing one `MissingInput`: they are also
`ValueError` and `FileNotFoundError`, as the library's callers catch them.
Any other exception is a defect, and shows its traceback.
"""


class Error(Exception):
  """Base of the project's own errors."""


class BadInput(Error, ValueError):
  """A flag, argument or input that is not allowed; the message names it, its
  value and what is allowed."""


class MissingInput(Error, FileNotFoundError):
  """A file or directory that should be there is not; the message names it."""


class RestoreError(Error):
  """No checkpoint of the run restores; the message names them and why."""


class DirectoryInUse(Error):
  """Another trainer (or evaluation job) holds the directory or file."""


class TrainingError(Error):
  """Training stopped (e.g. on a NaN loss); the message says why."""


class EvalError(Error):
  """The evaluation job cannot go on; the message says why."""


class Interrupted(Error):
  """SIGTERM or SIGINT: a checkpoint was saved at the step reached.

  Attributes:
    exit_code: 128 + the signal number (143 for SIGTERM, 130 for SIGINT).
  """

  def __init__(self, message, exit_code):
    super().__init__(message)
    self.exit_code = exit_code


# What the command line reports in one line rather than a traceback.
REPORTED = Error
