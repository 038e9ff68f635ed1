r"""Trains a MentorNet on rows written by data_generator.py.

  python code/training_mentornet/train.py \
      --data_path=mentornet_data/self_paced --train_dir=runs/self_paced_mentornet

The checkpoints in --train_dir load with
`mentornet.models.mentor.load_mentornet` and with cifar_train_mentornet.py
--trained_mentornet_dir.
"""

from absl import flags
from absl import logging

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
from mentornet import config as config_lib
from mentornet_cli import flags_lib

flags_lib.define_from_config(config_lib.MentorNetTrainConfig)
FLAGS = flags.FLAGS


def main(argv):
  del argv
  # pylint: disable=g-import-not-at-top
  from mentornet.learning import fit
  logging.set_verbosity(logging.INFO)
  if not FLAGS.train_dir or not FLAGS.data_path:
    raise ValueError("--train_dir and --data_path are required")
  if FLAGS.max_step_train <= 0 or FLAGS.max_step_train != int(
      FLAGS.max_step_train):
    raise ValueError(f"--max_step_train={FLAGS.max_step_train} must be a "
                     "positive whole number")
  metrics = fit.train_mentornet(
      config_lib.MentorNetTrainConfig(train_dir=FLAGS.train_dir,
                                      data_path=FLAGS.data_path,
                                      mini_batch_size=FLAGS.mini_batch_size,
                                      max_step_train=int(FLAGS.max_step_train),
                                      learning_rate=FLAGS.learning_rate,
                                      seed=FLAGS.seed,
                                      allow_pickle=FLAGS.allow_pickle))
  print(f"test loss {metrics['loss']:.6f}  test mse {metrics['mse']:.6f}  "
        f"test accuracy {metrics['accuracy']:.4f}  training loop "
        f"{metrics['loop_seconds']:.1f} s")


def run():
  cli.run(main, __doc__, [__name__, "mentornet_cli.flags_lib"])


if __name__ == "__main__":
  run()
