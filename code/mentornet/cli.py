"""What every script and installed command shares: `--help` and errors.

`run(main, doc, modules)` starts an absl program whose `--help` shows the
script's docstring (usage) and its own flags with defaults and meanings: the
flags defined by the script itself and by the shared flag modules it names.
absl would otherwise list only flags defined in `__main__` (none, for the
installed commands, whose `__main__` is a generated wrapper), format `%`
signs in the docstring and exit with code 1 after printing the help.
"""

import logging
import sys

from absl import app
from absl import flags

FLAGS = flags.FLAGS
# absl's help flags, which print and then exit with code 1.
HELP_FLAGS = ("help", "helpshort", "helpfull", "helpxml", "?")


def _own_flags(modules):
  by_module = FLAGS.flags_by_module_dict()
  seen, own = set(), []
  for module in modules:
    for flag in by_module.get(module, []):
      if flag.name not in seen:
        seen.add(flag.name)
        own.append(flag)
  return own


def run(main, doc, modules):
  """Runs `main` under absl with this script's help.

  Args:
    main: the absl main function.
    doc: the script's docstring (its usage).
    modules: names of the modules whose flags are the script's own (the
      script module's `__name__`, which is `__main__` when run as a file, and
      shared modules such as `mentornet.flags_lib`).
  """
  program = sys.argv[0]
  names = [program if m == "__main__" else m for m in modules]
  for flag in _own_flags(names):
    if flag not in FLAGS.get_key_flags_for_module(program):
      FLAGS.register_key_flag_for_module(program, flag)
  # absl formats the docstring with `%`; keep every `%` as it is written.
  sys.modules["__main__"].__doc__ = (doc or "").replace("%", "%%")
  asked_for_help = any(arg.lstrip("-").split("=")[0] in HELP_FLAGS
                       for arg in sys.argv[1:] if arg.startswith("-"))
  try:
    app.run(main)
  except SystemExit as e:
    if asked_for_help and e.code == 1:
      sys.exit(0)  # help was printed as asked: a success
    raise


def fail(script, error):
  """Exits with one line `<script>: error: <message>` and code 1.

  TensorFlow's own warnings at interpreter exit (e.g. about a checkpoint
  that was only partly restored before the error) are silenced, so that the
  error stays the last line.
  """
  logging.getLogger("tensorflow").setLevel(logging.ERROR)
  sys.exit(f"{script}: error: {error}")
