"""StudentNets: the image classifiers trained on noisy labels, one entry each.

The names are the original's: `resnet101` is really a wide pre-activation
ResNet (the original `resnet_model.py`) and `inception` is really the small
CifarNet (`inception_model.py`). Each `StudentNet` entry says everything the
training and evaluation code needs: how to build the network, its optimizer
and learning-rate schedule in each script, whether its weight decay is part
of the minimised loss, and its training-time padding. A new StudentNet is one
module with a builder plus one `register(StudentNet(...))`.
"""

import dataclasses
from typing import Any, Callable

import tensorflow as tf

from mentornet import curriculum
from mentornet import datasets
from mentornet import optimizers
from mentornet import registry
from mentornet.students import cifarnet
from mentornet.students import resnet

# Weight-decay rules: how `model.losses` enter the minimised loss.
NO_DECAY = curriculum.REGULARIZATION_NONE  # never (the inception scripts)
# Added; with MentorNet scaled by sum(v) / batch (the original resnet scripts).
DECAY_SCALED_BY_WEIGHTS = curriculum.REGULARIZATION_SCALED_BY_WEIGHTS


@dataclasses.dataclass(frozen=True)
class StudentNet:
  """One StudentNet.

  Attributes:
    name: `--studentnet`.
    build: `(num_classes, image_size, config) -> keras.Model` returning
      logits; `config` is the run's TrainConfig or EvalConfig (for
      architecture flags such as `num_residual_units`).
    make_schedule: `(config, num_examples) -> learning-rate schedule`, where
      `config.use_mentornet` tells the two scripts apart.
    make_optimizer: `schedule -> keras optimizer`.
    weight_decay: NO_DECAY or DECAY_SCALED_BY_WEIGHTS.
    pad: `(float image [H, W, 3], size) -> padded image`, before the random
      crop back to size x size.
  """
  name: str
  build: Callable[[int, int, Any], Any]
  make_schedule: Callable[[Any, int], Any]
  make_optimizer: Callable[[Any], Any]
  weight_decay: str = NO_DECAY
  pad: Callable[[Any, int], Any] = lambda image, size: image


def _check(studentnet):
  if studentnet.weight_decay not in (NO_DECAY, DECAY_SCALED_BY_WEIGHTS):
    raise ValueError(f"studentnet {studentnet.name}: unknown weight_decay "
                     f"'{studentnet.weight_decay}'")


REGISTRY = registry.Registry("studentnet")
get, names = REGISTRY.get, REGISTRY.names


def register(studentnet):
  """Adds (or replaces) a StudentNet entry; returns it."""
  return REGISTRY.register(studentnet, _check)


def build_for(config):
  """The StudentNet of a run's TrainConfig or EvalConfig (same field names:
  `studentnet`, `dataset_name` and the architecture flags)."""
  dataset = datasets.get(config.dataset_name)
  return get(config.studentnet).build(dataset.num_classes,
                                      dataset.image_size, config)


def _exponential_decay(config, num_examples):
  return optimizers.exponential_decay(
      config.learning_rate, config.learning_rate_decay_factor, num_examples,
      config.batch_size, config.num_epochs_per_decay)


def _resnet_schedule(config, num_examples):
  # The MentorNet script used a piecewise schedule; the baseline script
  # overwrote its piecewise schedule with the exponential one.
  if config.use_mentornet:
    return optimizers.resnet_piecewise(config.learning_rate)
  return _exponential_decay(config, num_examples)


def _crop_or_pad_by_4(image, size):
  return tf.image.resize_with_crop_or_pad(image, size + 4, size + 4)


def _zero_pad_quarter(image, size):
  pad = size // 4
  return tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])


register(StudentNet(
    name="resnet101",
    build=lambda num_classes, size, config: resnet.wide_resnet(
        num_classes, config.num_residual_units, tuple(config.resnet_widths),
        image_size=size),
    make_schedule=_resnet_schedule,
    make_optimizer=lambda schedule: optimizers.TF1Momentum(schedule, 0.9),
    weight_decay=DECAY_SCALED_BY_WEIGHTS,
    pad=_crop_or_pad_by_4))
register(StudentNet(
    name="inception",
    build=lambda num_classes, size, config: cifarnet.cifarnet(
        num_classes, image_size=size),
    make_schedule=_exponential_decay,
    make_optimizer=optimizers.plain_sgd,
    weight_decay=NO_DECAY,
    pad=_zero_pad_quarter))
