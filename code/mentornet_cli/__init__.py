"""The command line: flags in, config dataclasses out, one-line errors.

  cli.py          quiet TensorFlow start-up, --help (and -h), `fail`
  flags_lib.py    flags shared by several scripts; flags made from config
                  fields; the strict flags-to-config helper
  train_flags.py  the training scripts' flags and main

The library (`mentornet`) never reads flags; only this package and the
scripts in `code/` do.
"""
