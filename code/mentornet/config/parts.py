"""The parts of a training run's configuration, one per concern, and the
named values their settings take. Plain dataclasses, no TensorFlow: each
setting is declared once here (`settings.setting`), with its default, help
and range; `config.TrainConfig` holds one of each.
"""

import dataclasses
import math

from mentornet import errors
from mentornet.config import settings

setting = settings.setting
__all__ = [
    "NUM_EPOCHS",
    "MAX_SEED",
    "REGULARIZATION_ADDED",
    "REGULARIZATION_SCALED_BY_WEIGHTS",
    "REGULARIZATION_NONE",
    "REGULARIZATIONS",
    "SCHEDULE_PIECEWISE",
    "SCHEDULE_EXPONENTIAL",
    "SCHEDULE_CONSTANT",
    "SCHEDULE_EXPONENTIAL_UNROUNDED",
    "SCHEDULES",
    "CURRICULUM_MENTORNET",
    "CURRICULUM_THRESHOLD",
    "CURRICULA",
    "THRESHOLD_PERCENTILE",
    "CURRICULUM_FIELDS",
    "MENTORMIX_FIELDS",
    "STRATEGIES",
    "FLOAT32",
    "MIXED_BFLOAT16",
    "MIXED_FLOAT16",
    "PRECISIONS",
    "ModelConfig",
    "DataConfig",
    "OptimizationConfig",
    "CurriculumConfig",
    "MentorMixConfig",
    "RunConfig",
]

NUM_EPOCHS = 100  # the training-progress "epochs" 0..99 of the original.
MAX_SEED = 2**31 - 1  # seeds are 32-bit: numpy's, Keras' and the draws' keys

# How a model's regularisation losses (`model.losses`) enter the minimised
# loss (see `curriculum.weighted_objective`).
REGULARIZATION_ADDED = "added"  # as Keras adds them
REGULARIZATION_SCALED_BY_WEIGHTS = "scaled_by_weights"  # times sum(v) / B
REGULARIZATION_NONE = "none"  # ignored, as the original inception scripts
REGULARIZATIONS = (REGULARIZATION_ADDED, REGULARIZATION_SCALED_BY_WEIGHTS,
                   REGULARIZATION_NONE)
# Learning-rate schedules of the original scripts.
SCHEDULE_PIECEWISE = "piecewise"  # resnet101, MentorNet script
SCHEDULE_EXPONENTIAL = "exponential"  # staircase decay every N epochs
SCHEDULE_CONSTANT = "constant"  # --learning_rate throughout
# MentorMix's: every `num_epochs_per_decay * N / batch_size` steps, a float
# (its script computed it without integer division).
SCHEDULE_EXPONENTIAL_UNROUNDED = "exponential_unrounded"
SCHEDULES = (SCHEDULE_PIECEWISE, SCHEDULE_EXPONENTIAL, SCHEDULE_CONSTANT,
             SCHEDULE_EXPONENTIAL_UNROUNDED)


def fail(message):
  """A setting out of range: one line naming the flag."""
  raise errors.BadInput(message)


CURRICULUM_MENTORNET = "mentornet"  # a frozen MentorNet (the original's)
CURRICULUM_THRESHOLD = "loss_threshold"  # MentorMix's simplest, no MentorNet
CURRICULA = (CURRICULUM_MENTORNET, CURRICULUM_THRESHOLD)
# The loss-threshold curriculum's percentile when none is given: MentorMix's
# `loss_thresholding_function(loss, para_lambda=0.75)`.
THRESHOLD_PERCENTILE = 0.75

# The precisions a StudentNet computes in (`models.precision`): float32,
# the original's; bfloat16 or float16 with float32 variables (Keras' mixed
# dtype policies).
FLOAT32, MIXED_BFLOAT16, MIXED_FLOAT16 = ("float32", "mixed_bfloat16",
                                          "mixed_float16")
PRECISIONS = (FLOAT32, MIXED_BFLOAT16, MIXED_FLOAT16)


@dataclasses.dataclass(kw_only=True)
class ModelConfig:
  """The StudentNet and its size (shared by training runs and the eval job),
  and whether averaged weights are kept for evaluation."""
  studentnet: str = setting(
      "resnet101", "The StudentNet: resnet101 (a wide ResNet), inception "
      "(CifarNet) or resnet32 (MentorMix's ResNet-32).")
  num_residual_units: int = setting(9, "resnet101: units per stage.", low=1)
  resnet_widths: tuple = setting((160, 320, 640),
                                 "resnet101: the three stage widths.")
  ema_decay: float = setting(0.0,
                             "Averaged weights for evaluation (0: none).",
                             flag=False)
  precision: str = setting(
      FLOAT32, "What the StudentNet computes in: float32 (the original's), "
      "mixed_bfloat16 (CPUs with avx512_bf16 or amx_bf16, GPUs from compute "
      "capability 8.0) or mixed_float16 (GPUs, with dynamic loss scaling). "
      "Variables, losses and the curriculum stay float32; checkpoints are "
      "interchangeable between precisions.",
      choices=PRECISIONS)

  def check(self):
    """What the declared ranges (`settings.check_ranges`) do not say."""
    widths = tuple(self.resnet_widths)
    if not (len(widths) == 3 and 16 <= widths[0] < widths[1] < widths[2]):
      fail(f"--resnet_widths={','.join(map(str, widths))} must be three "
           "increasing widths, the first >= 16 (each stage that halves the "
           "image widens the shortcut by zero-padding, as the original's "
           "did)")
    if not 0.0 <= self.ema_decay < 1.0:
      fail(f"ema_decay {self.ema_decay} must lie in [0, 1) (0: none)")
    if self.precision not in PRECISIONS:
      fail(f"--precision={self.precision} is unknown; choose one of "
           f"{', '.join(PRECISIONS)}")


@dataclasses.dataclass(kw_only=True)
class DataConfig:
  """The training records and how they are batched."""
  data_dir: str = setting("", "Directory of the training TFRecords.")
  dataset_name: str = setting("cifar10", "The dataset (cifar10, cifar100).")
  batch_size: int = setting(128, "The number of images in a batch.", low=1)


@dataclasses.dataclass(kw_only=True)
class OptimizationConfig:
  """The learning rate, its schedule, the run's length and the weight decay.

  `regularization` and `schedule` are the StudentNet's rules for the run's
  method (its registry entry gives them, `training.build.with_rules`); None
  until then.
  """
  learning_rate: float = setting(0.1, "The initial learning rate.")
  learning_rate_decay_factor: float = setting(0.1,
                                              "Learning rate decay factor.")
  num_epochs_per_decay: float = setting(
      50.0, "Number of epochs after which the learning rate decays.")
  max_number_of_steps: int = setting(39000,
                                     "The number of training steps.",
                                     low=1)
  regularization: str | None = setting(
      None, "The StudentNet's rule for its weight decay.", flag=False)
  schedule: str | None = setting(None,
                                 "The StudentNet's learning-rate schedule.",
                                 flag=False)

  def check(self):
    """What the declared ranges (`settings.check_ranges`) do not say."""
    for name in ("learning_rate", "num_epochs_per_decay"):
      value = getattr(self, name)
      if not (math.isfinite(value) and value > 0):
        fail(f"--{name}={value} must be a positive number")
    if not 0 < self.learning_rate_decay_factor <= 1:
      fail(f"--learning_rate_decay_factor={self.learning_rate_decay_factor}"
           " must lie in (0, 1]")
    if self.regularization not in REGULARIZATIONS + (None,):
      fail(f"regularization '{self.regularization}' is unknown; choose one "
           f"of {', '.join(REGULARIZATIONS)}")
    if self.schedule not in SCHEDULES + (None,):
      fail(f"schedule '{self.schedule}' is unknown; choose one of "
           f"{', '.join(SCHEDULES)}")


@dataclasses.dataclass(kw_only=True)
class CurriculumConfig:
  """The settings of a curriculum (the original's flags, and the choice of
  MentorMix's loss-thresholding curriculum). `kind` is the flag
  `--curriculum`."""
  kind: str = setting(
      CURRICULUM_MENTORNET, "mentornet (weights from --trained_mentornet_dir)"
      " or loss_threshold (MentorMix's simplest curriculum: weight 0 at or "
      "above the batch's --loss_p_percentile loss, 1 below; no MentorNet).",
      name="curriculum")
  trained_mentornet_dir: str = setting(
      "", "Directory (or prefix) of the trained MentorNet.")
  loss_p_percentile: float = setting(
      0.7, "Percentile of the batch loss fed to the moving average.")
  burn_in_epoch: int = setting(
      0, "Weights are all 1 before this (progress) epoch.")
  fixed_epoch_after_burn_in: bool = setting(
      False, "Feed min(epoch, burn_in_epoch) to MentorNet.")
  loss_moving_average_decay: float = setting(
      0.5, "Decay of the loss percentile's moving average.")
  example_dropout_rates: str = setting(
      "0.5,17,0.05,78,1.0,5", "Comma-separated 'rate,n_epochs' pairs; counts "
      "sum to 100, rates in [0, 1].")

  @classmethod
  def from_flat(cls, **values):
    """From the flat names (`curriculum`, `loss_p_percentile`, ...)."""
    return settings.from_flat(cls, values)

  def flat(self):
    return settings.to_flat(self)

  def check(self):
    """Raises ValueError, one line naming the flag, for a value out of range
    (the drop-out rates are parsed by `curriculum.parse_dropout_rate_list`).
    """
    if not 0.0 <= self.loss_p_percentile <= 1.0:
      fail(f"--loss_p_percentile={self.loss_p_percentile} is outside [0, 1]")
    if not 0.0 <= self.loss_moving_average_decay <= 1.0:
      fail(f"--loss_moving_average_decay={self.loss_moving_average_decay} "
           "is outside [0, 1]")
    if not 0 <= int(self.burn_in_epoch) <= NUM_EPOCHS:
      fail(f"--burn_in_epoch={self.burn_in_epoch} is outside [0, 100]")
    if self.kind not in CURRICULA:
      fail(f"--curriculum={self.kind} is unknown; choose one of "
           f"{', '.join(CURRICULA)}")


CURRICULUM_FIELDS = settings.flat_names(CurriculumConfig)


@dataclasses.dataclass(kw_only=True)
class MentorMixConfig:
  """MentorMix's own settings (its script's flags)."""
  mixup_alpha: float = setting(
      8.0, "Alpha of the Beta distribution the mixup factor is drawn from (0:"
      " no mixup).")
  second_reweight: bool = setting(
      True, "Weight the mixed examples again with the curriculum (its own "
      "moving average, 'mixed').")

  def check(self):
    if not (math.isfinite(self.mixup_alpha) and self.mixup_alpha >= 0):
      fail(f"--mixup_alpha={self.mixup_alpha} must be a number >= 0 (0: no "
           "mixup)")


MENTORMIX_FIELDS = settings.flat_names(MentorMixConfig)
STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")


@dataclasses.dataclass(kw_only=True)
class RunConfig:
  """Where the run lives, its seed, and how it reports, saves and runs."""
  train_log_dir: str = setting(
      "", "Directory for checkpoints, summaries and train_config.json; a "
      "rerun resumes here.")
  seed: int = setting(
      0, "Seed of initialisation, data order, augmentation and example "
      "drop-out.",
      low=0,
      high=MAX_SEED)
  save_summaries_secs: int = setting(
      120, "How often summaries are written, in seconds.", low=0)
  save_summaries_steps: int = setting(
      0, "Also write summaries every N steps (0: only by time and at the "
      "end).",
      low=0)
  save_interval_secs: int = setting(
      1200, "How often checkpoints are written, in seconds.", low=0)
  save_checkpoint_steps: int = setting(
      0, "Also write a checkpoint every N steps (0: only by time and at "
      "the end).",
      low=0)
  log_every_n_steps: int = setting(100, "Steps between progress lines.", low=1)
  distribution_strategy: str = setting(
      "default", "default (one device), mirrored (all local GPUs) or "
      "multi_worker_mirrored (configured by TF_CONFIG).")
  jit_compile: bool = setting(
      False, "Compile the step with XLA (slower than oneDNN on CPU).")

  def check(self):
    """What the declared ranges (`settings.check_ranges`) do not say."""
    if self.distribution_strategy not in STRATEGIES:
      fail(f"--distribution_strategy={self.distribution_strategy} is "
           f"unknown; choose one of {', '.join(STRATEGIES)}")
