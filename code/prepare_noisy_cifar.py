r"""Makes noisy CIFAR-10/100 TFRecords in the original MentorNet layout.

  python code/prepare_noisy_cifar.py --dataset_name=cifar10 \
      --noise_fraction=0.4 --output_dir=data

writes data/cifar10/0.4/cifar10_train-* (noisy labels, plus the clean label
and an id), data/cifar10/val/cifar10_test-* and data/cifar10/0.4/noise_report.json.
"""

from absl import flags

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
from mentornet import config as config_lib
from mentornet.data import datasets
from mentornet_cli import flags_lib

flags.DEFINE_string(
    "dataset_name", "cifar10", "One of " +
    ", ".join(d for d in datasets.names() if datasets.get(d).tfds_name) + ".")
flags.DEFINE_float(
    "noise_fraction", 0.2,
    "Probability that a training label is corrupted, in [0, 1].")
flags.DEFINE_string("noise_type", "uniform",
                    "uniform (the paper's), flip, pairflip or asymmetric.")
flags.DEFINE_integer("seed", 0, "Seed of the label noise.")
flags.DEFINE_string(
    "tfds_data_dir", None, "A prepared tensorflow-datasets directory (default: "
    "TFDS's own, ~/tensorflow_datasets, downloaded into on "
    "the first run when the machine is online).")
flags.DEFINE_string("output_dir", "data", "Root of the data directories.")
flags.DEFINE_bool("overwrite", False, "Replace existing output directories.")
flags.DEFINE_integer("max_train_examples", 0,
                     "Keep only the first N training images (0: all).")
flags.DEFINE_integer("max_test_examples", 0,
                     "Keep only the first N test images (0: all).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from mentornet.data import cifar_data  # pylint: disable=g-import-not-at-top
  cifar_data.prepare_noisy_cifar(
      flags_lib.config_from_flags(config_lib.PrepareConfig))


def run():
  cli.run(main, __doc__, [__name__])


if __name__ == "__main__":
  run()
