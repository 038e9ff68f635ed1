"""How a setting is declared: its default, help and allowed values, once.

`setting(...)` makes a dataclass field whose metadata the command line turns
into a flag (`mentornet_cli.flags_lib.define_from_config`); `flag_help` is
that flag's help text. Pure Python, no TensorFlow.
"""

import dataclasses


def setting(default,
            help_text,
            *,
            low=None,
            high=None,
            choices=None,
            flag=True):
  """A dataclass field declared once: its default, and its flag's help text,
  allowed range (`low`/`high`, inclusive) or `choices`; `flag=False` for a
  field no script sets by flag (resolved from other settings)."""
  return dataclasses.field(default=default,
                           metadata={
                               "help": help_text,
                               "low": low,
                               "high": high,
                               "choices": choices,
                               "flag": flag
                           })


def flag_help(field):
  """A field's flag help: its help text and its allowed values."""
  meta = field.metadata
  text = meta.get("help", "")
  if meta.get("choices"):
    return text  # absl shows the choices itself
  low, high = meta.get("low"), meta.get("high")
  if low is not None and high is not None:
    return f"{text} Range [{low}, {high}]."
  if low is not None:
    return f"{text} At least {low}."
  return text
