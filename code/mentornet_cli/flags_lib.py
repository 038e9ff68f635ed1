"""The flags layer: definitions shared by several scripts, flags made from
the config dataclasses' own fields, and one strict way from flags to a
config.

Only entry scripts call this; the library never reads FLAGS. Nothing here
loads TensorFlow (the registries do not), so `--help` answers at once.
"""

import dataclasses
import os

from absl import flags
from absl import logging

from mentornet import config as config_lib

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


def define_from_config(config_class, names=None, exclude=()):
  """Defines one flag per field of `config_class` (or per name in `names`)
  that is set by flag: the field's name, type, default, and help with its
  range or choices (`config.flag_help`), declared once in `config.py`.
  """
  for field in dataclasses.fields(config_class):
    if (not field.metadata.get("flag", True) or field.name in exclude or
        names is not None and field.name not in names):
      continue
    help_text = config_lib.flag_help(field)
    kind = _base_type(field)
    if field.metadata.get("choices"):
      flags.DEFINE_enum(field.name, field.default,
                        list(field.metadata["choices"]), help_text)
    elif kind is tuple:
      flags.DEFINE_list(field.name, [str(v) for v in field.default], help_text)
    else:
      _DEFINE[kind](field.name, field.default, help_text)


def _int_tuple(name, values):
  try:
    return tuple(int(v) for v in values)
  except ValueError:
    raise ValueError(f"--{name}={','.join(values)} must be integers") from None


def config_from_flags(config_class, keep_defaults=(), **overrides):
  """Builds `config_class` from the flags of the same names.

  Every field must be given by a flag, an override, or be named in
  `keep_defaults` (no silent defaults); a list flag becomes a tuple of ints
  (e.g. `--resnet_widths`). Also applies the process-level `--device_id` and
  notes the ignored TF1 `--master`.

  Raises:
    ValueError: a field with neither flag nor override, or a bad list.
  """
  if "device_id" in FLAGS:
    os.environ["CUDA_VISIBLE_DEVICES"] = FLAGS.device_id
  if "master" in FLAGS and FLAGS.master:
    logging.warning("--master is a TF1 setting and is ignored")
  values = {}
  for field in dataclasses.fields(config_class):
    if field.name in overrides:
      values[field.name] = overrides[field.name]
    elif field.name in FLAGS:
      value = FLAGS[field.name].value
      if isinstance(value, list):
        value = _int_tuple(field.name, value)
      values[field.name] = value
    elif field.name not in keep_defaults:
      raise ValueError(f"{config_class.__name__}.{field.name} has no flag")
  return config_class(**values)
