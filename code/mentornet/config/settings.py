"""How a setting is declared: its default, help and allowed values, once.

`setting(...)` makes a dataclass field whose metadata the command line turns
into a flag (`mentornet_cli.flags_lib.define_from_config`); `flag_help` is
that flag's help text. `section(cls)` nests one config in another (a training
run's model, data, optimisation, ... parts). Every leaf setting has one flat
name, unique within its config: its flag's name, and its key in
`train_config.json`; `from_flat` and `to_flat` convert between the nested
config and those names. Pure Python, no TensorFlow.
"""

import dataclasses

from mentornet import errors


def setting(default,
            help_text,
            *,
            low=None,
            high=None,
            choices=None,
            flag=True,
            name=None):
  """A dataclass field declared once: its default, and its flag's help text,
  allowed range (`low`/`high`, inclusive) or `choices`; `flag=False` for a
  field no script sets by flag (resolved from other settings); `name` for a
  flat name (flag and record key) other than the field's own."""
  return dataclasses.field(default=default,
                           metadata={
                               "help": help_text,
                               "low": low,
                               "high": high,
                               "choices": choices,
                               "flag": flag,
                               "name": name
                           })


def section(config_class):
  """A field holding a nested config of `config_class` (its defaults)."""
  return dataclasses.field(default_factory=config_class,
                           metadata={"section": config_class})


def flat_name(field):
  """The setting's flag name and record key."""
  return field.metadata.get("name") or field.name


def leaf_fields(config_class, path=()):
  """(path, field) of every setting of `config_class`, sections walked in
  order; `path` is the section names that lead to the field."""
  for field in dataclasses.fields(config_class):
    inner = field.metadata.get("section")
    if inner:
      yield from leaf_fields(inner, path + (field.name,))
    else:
      yield path, field


def flat_names(config_class):
  return tuple(flat_name(f) for _, f in leaf_fields(config_class))


def from_flat(config_class, values):
  """A `config_class` from a dict of flat names (missing ones: defaults); a
  list given for a tuple setting (as JSON holds it) becomes a tuple.

  Raises:
    TypeError: a name that is no setting of `config_class`.
  """
  values = dict(values)
  built = _build(config_class, values)
  if values:
    raise TypeError(f"{config_class.__name__} has no setting "
                    f"{', '.join(sorted(values))}")
  return built


def _build(config_class, values):
  kwargs = {}
  for field in dataclasses.fields(config_class):
    inner = field.metadata.get("section")
    if inner:
      kwargs[field.name] = _build(inner, values)
    elif flat_name(field) in values:
      value = values.pop(flat_name(field))
      kwargs[field.name] = (tuple(value) if field.type is tuple and
                            isinstance(value, list) else value)
  return config_class(**kwargs)


def replace(config, **changes):
  """A copy of `config` with the settings named (flat names) changed."""
  return from_flat(type(config), {**to_flat(config), **changes})


def to_flat(config):
  """Every setting of a (nested) config, by flat name."""
  flat = {}
  for field in dataclasses.fields(config):
    value = getattr(config, field.name)
    if field.metadata.get("section"):
      flat.update(to_flat(value))
    else:
      flat[flat_name(field)] = value
  return flat


def check_ranges(config):
  """Raises ValueError (`errors.BadInput`), one line naming the flag, for a
  setting of `config` (its parts too) outside its declared `low`/`high`."""
  for path, field in leaf_fields(type(config)):
    low, high = field.metadata.get("low"), field.metadata.get("high")
    if low is None and high is None:
      continue
    owner = config
    for name in path:
      owner = getattr(owner, name)
    value = getattr(owner, field.name)
    if value is None or ((low is None or value >= low) and
                         (high is None or value <= high)):
      continue
    flag = f"--{flat_name(field)}={value}"
    if high is not None:
      raise errors.BadInput(f"{flag} must lie in [{low}, {high}]")
    raise errors.BadInput(f"{flag} must be " +
                          ("positive" if low == 1 else f">= {low}"))


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
