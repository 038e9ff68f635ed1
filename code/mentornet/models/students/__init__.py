"""StudentNets: the image classifiers trained on noisy labels, one entry each.

The names are the original's: `resnet101` is really a wide pre-activation
ResNet (the original `resnet_model.py`) and `inception` is really the small
CifarNet (`inception_model.py`). Each `StudentNet` entry says everything the
training and evaluation code needs: how to build the network and its
optimizer, the rules each training script applies to it (how its weight decay
enters the minimised loss, which learning-rate schedule), and its
training-time padding. A new StudentNet is one module with a builder plus one
`register(StudentNet(...))`.

The registry loads without TensorFlow (so that `--help` answers at once):
the builders import Keras when they are called.
"""

import dataclasses
from typing import Any, Callable

from mentornet import errors
from mentornet import config as config_lib
from mentornet import registry
from mentornet.data import datasets

# The training scripts.
BASELINE, MENTORNET, MENTORMIX = config_lib.METHODS
# Image preprocessing (`data.inputs.PREPROCESSING`): MentorNet's
# per-image standardisation, or MentorMix's colour distortion and [-1, 1].
STANDARDIZE, MENTORMIX_COLOR = "standardize", "mentormix"


@dataclasses.dataclass(frozen=True)
class Rules:
  """What one training script does with a StudentNet.

  Attributes:
    regularization: how `model.losses` enter the minimised loss, one of
      `config.REGULARIZATIONS`.
    schedule: the learning-rate schedule, one of `config.SCHEDULES`.
  """
  regularization: str
  schedule: str


@dataclasses.dataclass(frozen=True)
class StudentNet:
  """One StudentNet.

  Attributes:
    name: `--studentnet`.
    build: `(num_classes, image_size, config) -> keras.Model` returning
      float32 logits; `config` is the run's `config.ModelConfig` (for
      architecture flags such as `num_residual_units`, and the precision:
      the builder runs inside `precision.scope`, so its layers compute in
      it, and keeps in float32 what must be).
    make_optimizer: `schedule -> keras optimizer`.
    rules: {script: `Rules`} for the scripts that train it (`BASELINE`,
      `MENTORNET`, `MENTORMIX`).
    pad: `(float image [H, W, 3], size) -> padded image`, before the random
      crop back to size x size.
    preprocessing: `STANDARDIZE` or `MENTORMIX_COLOR` (training and
      evaluation alike).
  """
  name: str
  build: Callable[[int, int, Any], Any]
  make_optimizer: Callable[[Any], Any]
  rules: dict
  pad: Callable[[Any, int], Any] = lambda image, size: image
  preprocessing: str = STANDARDIZE


def _check(studentnet):
  if studentnet.preprocessing not in (STANDARDIZE, MENTORMIX_COLOR):
    raise errors.BadInput(
        f"studentnet {studentnet.name}: unknown preprocessing "
        f"'{studentnet.preprocessing}'")
  for script, rules in studentnet.rules.items():
    if (rules.regularization not in config_lib.REGULARIZATIONS or
        rules.schedule not in config_lib.SCHEDULES):
      raise errors.BadInput(f"studentnet {studentnet.name}: unknown rules "
                            f"{rules} for {script}")


REGISTRY = registry.Registry("studentnet")
get, names = REGISTRY.get, REGISTRY.names


def register(studentnet):
  """Adds (or replaces) a StudentNet entry; returns it."""
  return REGISTRY.register(studentnet, _check)


def build_for(model, dataset_name):
  """The StudentNet of a run's model part (`config.ModelConfig`, shared by
  TrainConfig and EvalConfig) for the dataset `dataset_name`, its layers
  computing in `model.precision` (`models.precision`; one warning line when
  this machine has no fast path for it)."""
  from mentornet.models import precision  # pylint: disable=g-import-not-at-top
  dataset = datasets.get(dataset_name)
  precision.warn_if_slow(model.precision)
  with precision.scope(model.precision):
    return get(model.studentnet).build(dataset.num_classes, dataset.image_size,
                                       model)


def rules_for(studentnet, script):
  """The `Rules` a script (`BASELINE`, `MENTORNET`, ...) applies."""
  entry = get(studentnet)
  if script not in entry.rules:
    raise errors.BadInput(f"--studentnet={studentnet} has no rules for the "
                          f"{script} script; it has {', '.join(entry.rules)}")
  return entry.rules[script]


# The builders import Keras and TensorFlow when called, not here.
# pylint: disable=g-import-not-at-top


def _wide_resnet(num_classes, size, model):
  from mentornet.models.students import resnet
  return resnet.wide_resnet(num_classes,
                            model.num_residual_units,
                            tuple(model.resnet_widths),
                            image_size=size)


def _resnet32(num_classes, size, config):
  del config  # MentorMix's network has no size flags
  from mentornet.models.students import resnet
  return resnet.wide_resnet(num_classes,
                            5, (128, 256, 512),
                            image_size=size,
                            init_width=64,
                            name="resnet32")


def _cifarnet(num_classes, size, config):
  from mentornet.models.students import cifarnet
  return cifarnet.cifarnet(num_classes,
                           image_size=size,
                           exact_lrn=config.precision == config_lib.FLOAT32)


def _tf1_momentum(schedule):
  from mentornet.models import optimizers
  return optimizers.TF1Momentum(schedule, 0.9)


def _plain_sgd(schedule):
  from mentornet.models import optimizers
  return optimizers.plain_sgd(schedule)


def _crop_or_pad_by_4(image, size):
  import tensorflow as tf
  return tf.image.resize_with_crop_or_pad(image, size + 4, size + 4)


def _zero_pad_quarter(image, size):
  import tensorflow as tf
  pad = size // 4
  return tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])


# resnet101: the MentorNet script used a piecewise schedule and scaled the
# weight decay by sum(v) / B; the baseline script overwrote its piecewise
# schedule with the exponential one and added the decay. The MentorMix
# script (which only knew ResNet-32) added the decay and decayed every
# `epochs x N / B` steps, unrounded, whatever the network: resnet101 under
# MentorMix gets that script's rules.
_MENTORMIX_SCRIPT = Rules(config_lib.REGULARIZATION_ADDED,
                          config_lib.SCHEDULE_EXPONENTIAL_UNROUNDED)
# The ResNets' rules per script (resnet32 is treated as resnet101 by the
# MentorNet scripts).
_RESNET_RULES = {
    BASELINE:
        Rules(config_lib.REGULARIZATION_ADDED, config_lib.SCHEDULE_EXPONENTIAL),
    MENTORNET:
        Rules(config_lib.REGULARIZATION_SCALED_BY_WEIGHTS,
              config_lib.SCHEDULE_PIECEWISE),
    MENTORMIX:
        _MENTORMIX_SCRIPT
}
register(
    StudentNet(name="resnet101",
               build=_wide_resnet,
               make_optimizer=_tf1_momentum,
               rules=_RESNET_RULES,
               pad=_crop_or_pad_by_4))
# inception: both scripts declared an fc L2 but never added it.
_NO_DECAY_EXPONENTIAL = Rules(config_lib.REGULARIZATION_NONE,
                              config_lib.SCHEDULE_EXPONENTIAL)
register(
    StudentNet(name="inception",
               build=_cifarnet,
               make_optimizer=_plain_sgd,
               rules={
                   BASELINE: _NO_DECAY_EXPONENTIAL,
                   MENTORNET: _NO_DECAY_EXPONENTIAL,
                   MENTORMIX: _NO_DECAY_EXPONENTIAL
               },
               pad=_zero_pad_quarter))
# resnet32: MentorMix's network. Its script added the weight decay and
# decayed the learning rate every `epochs x N / B` steps, unrounded; the
# MentorNet scripts treat it as resnet101.
register(
    StudentNet(name="resnet32",
               build=_resnet32,
               make_optimizer=_tf1_momentum,
               rules=_RESNET_RULES,
               pad=_crop_or_pad_by_4,
               preprocessing=MENTORMIX_COLOR))


def example_loss(labels, logits):
  """The per-example loss every script trains and evaluates a StudentNet
  with: softmax cross-entropy of sparse labels, as the original's."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
