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

from mentornet.data import datasets
from mentornet.models import students

FLAGS = flags.FLAGS


def define_model_flags(batch_size, data_dir_help):
  """Flags of every script that trains or evaluates a StudentNet."""
  flags.DEFINE_integer("batch_size", batch_size,
                       "The number of images in a batch.")
  flags.DEFINE_string("data_dir", "", data_dir_help)
  flags.DEFINE_string("dataset_name", "cifar10",
                      f"One of {', '.join(datasets.names())}.")
  flags.DEFINE_string("studentnet", "resnet101",
                      f"One of {', '.join(students.names())}.")
  flags.DEFINE_string("master", None, "TF1 master address (ignored).")
  flags.DEFINE_string("device_id", "0", "GPU ids (CUDA_VISIBLE_DEVICES).")
  flags.DEFINE_integer("num_residual_units", 9, "resnet101: units per stage.")
  flags.DEFINE_list("resnet_widths", ["160", "320", "640"],
                    "resnet101: the three stage widths.")


_DEFINE = {
    str: flags.DEFINE_string,
    float: flags.DEFINE_float,
    int: flags.DEFINE_integer,
    bool: flags.DEFINE_bool
}


def define_from_config(config_class, names=None):
  """Defines one flag per field of `config_class` (or per name in `names`),
  with the field's type, default and declared help: a default declared once.
  """
  for field in dataclasses.fields(config_class):
    if names is None or field.name in names:
      _DEFINE[field.type](field.name, field.default,
                          field.metadata.get("help", ""))


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
