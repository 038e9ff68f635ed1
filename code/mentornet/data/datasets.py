"""Dataset descriptions: everything the library needs to know of a dataset.

A dataset is one `Dataset` entry. Its records live in
`<data_dir>/<name>_<split>-*` as `tf.train.Example`s holding a PNG image of
`image_size` x `image_size` x 3 and the (noisy) label under `label_key`
(see `schema.py`). To add one (another TFDS image dataset, or a
Clothing1M-style folder of records), `register(Dataset(...))` once, before
training; `--dataset_name=<name>` then works in every script.
"""

import dataclasses

from mentornet import errors
from mentornet import registry
from mentornet.data import schema


@dataclasses.dataclass(frozen=True)
class Dataset:
  """One dataset.

  Attributes:
    name: `--dataset_name`, and the prefix of its record files.
    num_classes: labels lie in [0, num_classes).
    image_size: images are image_size x image_size x 3.
    label_key: the record key holding the (noisy) training label.
    tfds_name: its tensorflow-datasets name, for `prepare_noisy_cifar.py`
      (None: records are made another way).
  """
  name: str
  num_classes: int
  image_size: int = 32
  label_key: str = schema.LABEL
  tfds_name: str | None = None


def _check(dataset):
  if dataset.num_classes < 2 or dataset.image_size < 8:
    raise errors.BadInput(
        f"dataset {dataset.name}: needs >= 2 classes and images "
        "of at least 8x8")


REGISTRY = registry.Registry("dataset_name")
get, names = REGISTRY.get, REGISTRY.names


def register(dataset):
  """Adds (or replaces) a dataset description; returns it."""
  return REGISTRY.register(dataset, _check)


register(Dataset("cifar10", num_classes=10, tfds_name="cifar10"))
# The original read CIFAR-100's fine label; both label keys hold it.
register(
    Dataset("cifar100",
            num_classes=100,
            label_key=schema.FINE_LABEL,
            tfds_name="cifar100"))
