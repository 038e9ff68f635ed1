"""The errors this project raises on purpose, under one base class.

Each says in one line what is wrong and what to do; the command line
(`mentornet_cli.cli.guarded`) catches `Error` in one place and prints that
line with a non-zero exit (`Interrupted` with its own code). Bad flags and
inputs are still `ValueError`/`FileNotFoundError` (the library's public
contract, which tests and users catch), and a failing disk `OSError`; the
command line treats those the same way.
"""


class Error(Exception):
  """Base of the project's own errors."""


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
REPORTED = (Error, ValueError, OSError)
