r"""Trains a StudentNet on noisy CIFAR with example weights from a frozen MentorNet.

  python code/cifar_train_mentornet.py --dataset_name=cifar10 \
      --studentnet=resnet101 --data_dir=data/cifar10/0.4 \
      --train_log_dir=runs/cifar10_0.4_resnet_pd \
      --trained_mentornet_dir=mentornet_models/models/mentornet_pd1_g_1/mentornet_pd \
      --loss_p_percentile=0.75 --burn_in_epoch=0 --example_dropout_rates=0.5,17,0.05,83
"""

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
from mentornet_cli import train_flags

train_flags.define_common_flags()
train_flags.define_mentornet_flags()


def main(argv):
  del argv
  train_flags.train_main("mentornet")


def run():
  cli.run(main, __doc__,
          [__name__, "mentornet_cli.train_flags", "mentornet_cli.flags_lib"])


if __name__ == "__main__":
  run()
