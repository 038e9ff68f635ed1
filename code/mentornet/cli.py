"""What every script and installed command shares: `--help` and errors.

`run(main, doc, modules)` starts an absl program whose `--help` shows the
script's docstring (usage) and its own flags with defaults and meanings: the
flags defined by the script itself and by the shared flag modules it names.
absl would otherwise list only flags defined in `__main__` (none, for the
installed commands, whose `__main__` is a generated wrapper) and format `%`
signs in the docstring.
"""

import sys

from absl import app
from absl import flags

FLAGS = flags.FLAGS


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
  app.run(main)


def fail(script, error):
  """Exits with one line `<script>: error: <message>` and code 1."""
  sys.exit(f"{script}: error: {error}")
