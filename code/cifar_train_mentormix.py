r"""Trains a StudentNet with MentorMix: a curriculum's weights guide mixup.

  python code/cifar_train_mentormix.py --dataset_name=cifar10 \
      --data_dir=data/cifar10/0.4 --train_log_dir=runs/cifar10_0.4_mentormix \
      --trained_mentornet_dir=mentornet_models/models/mentornet_pd1_g_1/mentornet_pd \
      --loss_p_percentile=0.6 --burn_in_epoch=10 --num_epochs_per_decay=30 \
      --mixup_alpha=8 --nosecond_reweight

MentorMix (Jiang, Huang, Liu, Yang, ICML 2020) on the original MentorMix
script's flags and defaults (resnet32, CIFAR-100, 100,000 steps, the
learning rate x0.9 every 3 epochs, weights averaged for evaluation).
"""

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
from mentornet_cli import train_flags

train_flags.define_common_flags()
train_flags.define_mentormix_flags()


def main(argv):
  del argv
  train_flags.train_main("mentormix")


def run():
  cli.run(main, __doc__,
          [__name__, "mentornet_cli.train_flags", "mentornet_cli.flags_lib"])


if __name__ == "__main__":
  run()
