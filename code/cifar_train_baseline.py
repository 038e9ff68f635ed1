r"""Trains a StudentNet on noisy CIFAR with every example weighing 1 (baseline).

  python code/cifar_train_baseline.py --dataset_name=cifar10 \
      --studentnet=resnet101 --data_dir=data/cifar10/0.4 \
      --train_log_dir=runs/cifar10_0.4_resnet_baseline
"""

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
from mentornet_cli import train_flags

train_flags.define_common_flags()


def main(argv):
  del argv
  train_flags.train_main("baseline")


def run():
  cli.run(main, __doc__,
          [__name__, "mentornet_cli.train_flags", "mentornet_cli.flags_lib"])


if __name__ == "__main__":
  run()
