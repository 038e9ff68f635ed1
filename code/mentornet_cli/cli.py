"""What every script and installed command shares: quiet start, help, errors.

Import this module first in a script: unless `--verbose` is given (or
`MENTORNET_VERBOSE=1`), TensorFlow's start-up chatter (oneDNN, CUDA probes,
`cuInit` errors on machines without a GPU) is hidden, so the scripts print
their own lines only. Scripts import the library inside `main`, so `--help`
answers without loading TensorFlow.

`run(main, doc, modules)` starts an absl program whose `--help` (and `-h`)
shows the script's docstring (usage) and its own flags with defaults and
meanings: the flags defined by the script itself and by the shared flag
modules it names. absl would otherwise list only flags defined in
`__main__` (none, for the installed commands, whose `__main__` is a
generated wrapper), format `%` signs in the docstring and exit with code 1
after printing the help.
"""

import logging
import os
import sys
import time

from absl import app
from absl import flags
from absl import logging as absl_logging

FLAGS = flags.FLAGS
# absl's help flags, which print and then exit with code 1.
HELP_FLAGS = ("help", "helpshort", "helpfull", "helpxml", "?")
# Installed commands whose script is not `<name without mentornet_>.py`.
SCRIPT_OF_COMMAND = {"mentornet_plot": "plot_runs.py"}

flags.DEFINE_bool(
    "verbose", False, "Show TensorFlow's own start-up and warning lines (also "
    "MENTORNET_VERBOSE=1).")

if "--verbose" in sys.argv:
  os.environ["MENTORNET_VERBOSE"] = "1"  # the library's import keeps it loud
# pylint: disable=g-import-not-at-top,g-bad-import-order,wrong-import-position
import mentornet  # its import keeps TensorFlow's start-up quiet (or not)

VERBOSE = mentornet.VERBOSE  # --verbose or MENTORNET_VERBOSE=1


def load_tensorflow():
  """Imports TensorFlow (quietly unless verbose: `mentornet`'s import hook);
  returns the module."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not VERBOSE:
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
  return tf


def _own_or_serious(record):
  """Keeps our own log lines and any error; drops the libraries' chatter
  (TensorFlow's saver timings, tensorflow-datasets' progress)."""
  return (record.levelno >= logging.ERROR or
          "site-packages" not in (record.pathname or ""))


class _Lines(logging.Formatter):
  """`HH:MM:SS message`: the scripts' own progress lines, without absl's
  level, thread and source prefix (kept with --verbose)."""

  def format(self, record):
    stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
    prefix = "" if record.levelno < logging.WARNING else "warning: "
    return f"{stamp} {prefix}{record.getMessage()}"


def _own_flags(modules):
  by_module = FLAGS.flags_by_module_dict()
  seen, own = set(), []
  for module in modules + [__name__]:
    for flag in by_module.get(module, []):
      if flag.name not in seen:
        seen.add(flag.name)
        own.append(flag)
  return own


def _usage(doc, program):
  """The docstring, its `python code/<script>.py` lines naming the command
  that runs (an installed command's own name)."""
  doc = doc or ""
  name = os.path.basename(program)
  if not name.endswith(".py"):  # an installed command
    for script in ("code/training_mentornet/", "code/"):
      doc = doc.replace(f"python {script}", "")
    script = SCRIPT_OF_COMMAND.get(name, name.replace("mentornet_", "") + ".py")
    doc = doc.replace(script, name)
  return doc.replace("%", "%%")  # absl formats the docstring with `%`


def run(main, doc, modules, before_tensorflow=None):
  """Runs `main` under absl with this script's help and quiet output.

  Args:
    main: the absl main function.
    doc: the script's docstring (its usage).
    modules: names of the modules whose flags are the script's own (the
      script module's `__name__`, which is `__main__` when run as a file, and
      shared modules such as `mentornet_cli.flags_lib`).
    before_tensorflow: called with no argument after the flags are parsed
      and before TensorFlow loads (seconds), for a line that should come at
      once; its errors are reported as `main`'s.
  """
  program = sys.argv[0]
  sys.argv[1:] = ["--help" if a == "-h" else a for a in sys.argv[1:]]
  names = [program if m == "__main__" else m for m in modules]
  # absl's help names the program by sys.argv[0]: the script or command's
  # own name, not the path of a virtual environment's wrapper.
  sys.argv[0] = os.path.basename(program)
  for flag in _own_flags(names):
    if flag not in FLAGS.get_key_flags_for_module(sys.argv[0]):
      FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  sys.modules["__main__"].__doc__ = _usage(doc, program)
  asked_for_help = any(
      arg.lstrip("-").split("=")[0] in HELP_FLAGS
      for arg in sys.argv[1:]
      if arg.startswith("-"))
  if not VERBOSE:
    absl_logging.get_absl_handler().setFormatter(_Lines())
    absl_logging.get_absl_handler().addFilter(_own_or_serious)

  def main_with_tensorflow(argv):
    if before_tensorflow:
      guarded(lambda _: before_tensorflow(), argv, _script_name(program))
    load_tensorflow()  # after the flags were parsed: --help needs none
    return guarded(main, argv, _script_name(program))

  try:
    app.run(main_with_tensorflow)
  except SystemExit as e:
    if asked_for_help and e.code == 1:
      sys.exit(0)  # help was printed as asked: a success
    raise


def _script_name(program):
  """How errors name the program: `cifar_eval.py` (a script, also when run
  as its installed command `cifar_eval`)."""
  name = os.path.basename(program)
  if name.startswith("mentornet_"):
    name = name[len("mentornet_"):]
  return name if name.endswith(".py") else name + ".py"


def guarded(main, argv, script):
  """Runs `main(argv)`; the one place where the project's errors become one
  line and an exit code (`errors.REPORTED`; `Interrupted`: its own code,
  128 + the signal's number, after the checkpoint it saved)."""
  from mentornet import errors  # pylint: disable=g-import-not-at-top
  try:
    return main(argv)
  except errors.Interrupted as e:
    print(f"{script}: {e}", file=sys.stderr)
    sys.exit(e.exit_code)
  except errors.REPORTED as e:
    fail(script, e)


def fail(script, error):
  """Exits with one line `<script>: error: <message>` and code 1.

  TensorFlow's own warnings at interpreter exit (e.g. about a checkpoint
  that was only partly restored before the error) are silenced, so that the
  error stays the last line.
  """
  logging.getLogger("tensorflow").setLevel(logging.ERROR)
  sys.exit(f"{script}: error: {error}")
