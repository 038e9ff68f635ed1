"""The flags of cifar_train_baseline.py and cifar_train_mentornet.py.

Only the entry scripts call these helpers; the library itself never reads
FLAGS. The curriculum's flags are made from `config.CurriculumConfig`, where
their defaults and meanings are declared.
"""

import sys

from absl import flags
from absl import logging

from mentornet import config as config_lib
from mentornet_cli import flags_lib

FLAGS = flags.FLAGS


def define_common_flags():
  """Flags shared by the three training scripts: `config.TrainConfig`'s
  settings but the curriculum's and MentorMix's (which come with their
  scripts), and the original's TF1 and device flags."""
  flags_lib.define_from_config(config_lib.TrainConfig,
                               exclude=config_lib.CURRICULUM_FIELDS +
                               config_lib.MENTORMIX_FIELDS)
  flags_lib.define_tf1_flags()
  flags_lib.define_tf1_worker_flags()


def define_mentornet_flags():
  """Flags of cifar_train_mentornet.py only: the curriculum's settings."""
  flags_lib.define_from_config(config_lib.CurriculumConfig)
  flags.DEFINE_alias("loss_p_precentile", "loss_p_percentile")


def define_mentormix_flags():
  """Flags of cifar_train_mentormix.py: the curriculum's and MentorMix's,
  with the original MentorMix script's defaults where they differ."""
  define_mentornet_flags()
  flags_lib.define_from_config(config_lib.MentorMixConfig)
  for name, value in config_lib.MENTORMIX_DEFAULTS.items():
    if name in FLAGS:
      FLAGS.set_default(name, value)


def config_from_flags(method):
  """A `config.TrainConfig` of `method` ("baseline", "mentornet" or
  "mentormix", the script's) from the flags (see `flags_lib`); the
  StudentNet's rules are resolved when it trains (`training.build`)."""
  if FLAGS.ps_tasks or FLAGS.task:
    logging.warning("--ps_tasks/--task are TF1 settings and are ignored; TF2 "
                    "uses --distribution_strategy")
  if method != config_lib.BASELINE and any(
      a.startswith("--loss_p_precentile") for a in sys.argv):
    logging.warning("--loss_p_precentile is the original's misspelling of "
                    "--loss_p_percentile; it is honoured")
  keep = ("regularization", "schedule")
  values = {"method": method}
  if method == config_lib.BASELINE:
    keep += config_lib.CURRICULUM_FIELDS
  if method == config_lib.MENTORMIX:
    values["ema_decay"] = config_lib.MENTORMIX_DEFAULTS["ema_decay"]
  else:
    keep += config_lib.MENTORMIX_FIELDS + ("ema_decay",)
  return flags_lib.config_from_flags(config_lib.TrainConfig,
                                     keep_defaults=keep,
                                     **values)


def train_main(script):
  """The body of the three training scripts' main(): build the config and
  train. Errors become one line in `cli.guarded` (exit codes: 0 finished; 1
  a bad flag or input, a NaN, a failed save or a directory held by another
  trainer; 128 + signal, 143 SIGTERM and 130 SIGINT, stopped by a signal
  after saving a checkpoint)."""
  from mentornet import training  # pylint: disable=g-import-not-at-top
  training.run(config_from_flags(script))
