r"""Makes noisy CIFAR-10/100 TFRecords in the original MentorNet layout.

  python code/prepare_noisy_cifar.py --dataset_name=cifar10 \
      --noise_fraction=0.4 --output_dir=data

writes data/cifar10/0.4/cifar10_train-* (noisy labels, plus the clean label
and an id), data/cifar10/val/cifar10_test-* and data/cifar10/0.4/noise_report.json.
"""

from absl import flags

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
from mentornet import config as config_lib
from mentornet_cli import flags_lib

flags_lib.define_from_config(config_lib.PrepareConfig)
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from mentornet.data import cifar_data  # pylint: disable=g-import-not-at-top
  cifar_data.prepare_noisy_cifar(
      flags_lib.config_from_flags(config_lib.PrepareConfig))


def run():
  cli.run(main, __doc__, [__name__, "mentornet_cli.flags_lib"])


if __name__ == "__main__":
  run()
