r"""Trains a MentorNet on rows written by data_generator.py.

  python code/training_mentornet/train.py \
      --data_path=mentornet_data/self_paced --train_dir=runs/self_paced_mentornet

The checkpoints in --train_dir load with
`mentornet.models.mentor.load_mentornet` and with cifar_train_mentornet.py
--trained_mentornet_dir.
"""

import dataclasses

from absl import logging

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
from mentornet import errors
from mentornet import config as config_lib
from mentornet_cli import flags_lib

flags_lib.define_from_config(config_lib.MentorNetTrainConfig)


def main(argv):
  del argv
  # pylint: disable=g-import-not-at-top
  from mentornet.learning import fit
  logging.set_verbosity(logging.INFO)
  config = flags_lib.config_from_flags(config_lib.MentorNetTrainConfig)
  if not config.train_dir or not config.data_path:
    raise errors.BadInput("--train_dir and --data_path are required")
  steps = config.max_step_train
  if steps <= 0 or steps != int(steps):
    raise errors.BadInput(f"--max_step_train={steps} must be a positive whole "
                          "number")
  metrics = fit.train_mentornet(
      dataclasses.replace(config, max_step_train=int(steps)))
  print(f"test loss {metrics['loss']:.6f}  test mse {metrics['mse']:.6f}  "
        f"test accuracy {metrics['accuracy']:.4f}  training loop "
        f"{metrics['loop_seconds']:.1f} s")


def run():
  cli.run(main, __doc__, [__name__, "mentornet_cli.flags_lib"])


if __name__ == "__main__":
  run()
