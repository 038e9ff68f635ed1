"""The flags layer: definitions shared by several scripts, flags made from
the config dataclasses' own fields, and one strict way from flags to a
config.

Only entry scripts call this; the library never reads FLAGS. Nothing here
loads TensorFlow (the registries do not), so `--help` answers at once.
"""

import os

from absl import flags
from absl import logging

from mentornet import errors
from mentornet.config import settings

FLAGS = flags.FLAGS


def define_tf1_flags():
  """The original's process and TF1 flags, which are no run's settings:
  `--master`, `--ps_tasks`, `--task` (accepted, ignored with a note) and
  `--device_id` (sets CUDA_VISIBLE_DEVICES)."""
  flags.DEFINE_string("master", None, "TF1 master address (ignored).")
  flags.DEFINE_string("device_id", "0", "GPU ids (CUDA_VISIBLE_DEVICES).")


def define_tf1_worker_flags():
  """The training scripts' TF1 cluster flags (accepted, ignored)."""
  flags.DEFINE_integer(
      "ps_tasks", 0, "TF1 parameter servers; TF2 uses "
      "--distribution_strategy.")
  flags.DEFINE_integer("task", 0, "TF1 task id; TF2 uses "
                       "--distribution_strategy.")


_DEFINE = {
    str: flags.DEFINE_string,
    float: flags.DEFINE_float,
    int: flags.DEFINE_integer,
    bool: flags.DEFINE_bool
}


def _base_type(field):
  """The field's type, `str` for `str | None`."""
  kinds = getattr(field.type, "__args__", (field.type,))
  return next(t for t in kinds if t is not type(None))


def define_from_config(config_class, exclude=()):
  """Defines one flag per setting of `config_class` (its sections walked)
  that is set by flag: the setting's flat name, type, default, and help with
  its range or choices (`settings.flag_help`), declared once in the config.
  """
  for _, field in settings.leaf_fields(config_class):
    name = settings.flat_name(field)
    if not field.metadata.get("flag", True) or name in exclude:
      continue
    help_text = settings.flag_help(field)
    kind = _base_type(field)
    if field.metadata.get("choices"):
      flags.DEFINE_enum(name, field.default, list(field.metadata["choices"]),
                        help_text)
    elif kind is tuple:
      flags.DEFINE_list(name, [str(v) for v in field.default], help_text)
    else:
      _DEFINE[kind](name, field.default, help_text)


def _int_tuple(name, values):
  try:
    return tuple(int(v) for v in values)
  except ValueError:
    raise errors.BadInput(
        f"--{name}={','.join(values)} must be integers") from None


def config_from_flags(config_class, keep_defaults=(), **overrides):
  """Builds `config_class` (its sections too) from the flags of the
  settings' flat names.

  Every setting must be given by a flag, an override, or be named in
  `keep_defaults` (no silent defaults); a list flag becomes a tuple of ints
  (e.g. `--resnet_widths`). Also applies the process-level `--device_id` and
  notes the ignored TF1 `--master`.

  Raises:
    ValueError: a setting with neither flag nor override, a bad list, or a
      value outside its declared range.
  """
  if "device_id" in FLAGS:
    os.environ["CUDA_VISIBLE_DEVICES"] = FLAGS.device_id
  if "master" in FLAGS and FLAGS.master:
    logging.warning("--master is a TF1 setting and is ignored")
  values = {}
  for _, field in settings.leaf_fields(config_class):
    name = settings.flat_name(field)
    if name in overrides:
      values[name] = overrides[name]
    elif name in FLAGS:
      value = FLAGS[name].value
      if isinstance(value, list):
        value = _int_tuple(name, value)
      values[name] = value
    elif name not in keep_defaults:
      raise errors.BadInput(f"{config_class.__name__}.{name} has no flag")
  config = settings.from_flat(config_class, values)
  settings.check_ranges(config)  # every script's flags, from their ranges
  return config
