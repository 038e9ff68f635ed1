"""Every run's configuration, declared once, with defaults and meanings.

Plain dataclasses (no TensorFlow, no flags): the command line builds its
flags from these fields (`mentornet_cli.flags_lib`), the library reads them, and
`train_config.json` stores them. The curriculum's six settings live in
`CurriculumConfig` alone; `TrainConfig` extends it, and the curriculum layer
and `MentorNetModel` take the same settings by name.
"""

import dataclasses
import math

from mentornet import settings
from mentornet import tool_configs

setting, flag_help = settings.setting, settings.flag_help

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


def help_of(config_class, name):
  """The help text declared for field `name` of `config_class`."""
  return next(
      f.metadata.get("help", "")
      for f in dataclasses.fields(config_class)
      if f.name == name)


def _fail(message):
  raise ValueError(message)


CURRICULUM_MENTORNET = "mentornet"  # a frozen MentorNet (the original's)
CURRICULUM_THRESHOLD = "loss_threshold"  # MentorMix's simplest, no MentorNet
CURRICULA = (CURRICULUM_MENTORNET, CURRICULUM_THRESHOLD)
# The loss-threshold curriculum's percentile when none is given: MentorMix's
# `loss_thresholding_function(loss, para_lambda=0.75)`.
THRESHOLD_PERCENTILE = 0.75


@dataclasses.dataclass(kw_only=True)
class CurriculumConfig:
  """The settings of a curriculum (the original's flags, and the choice of
  MentorMix's loss-thresholding curriculum)."""
  curriculum: str = setting(
      CURRICULUM_MENTORNET, "mentornet (weights from --trained_mentornet_dir)"
      " or loss_threshold (MentorMix's simplest curriculum: weight 0 at or "
      "above the batch's --loss_p_percentile loss, 1 below; no MentorNet).")
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

  def check_curriculum(self):
    """Raises ValueError, one line naming the flag, for a value out of range
    (the drop-out rates are parsed by `curriculum.parse_dropout_rate_list`).
    """
    if not 0.0 <= self.loss_p_percentile <= 1.0:
      _fail(f"--loss_p_percentile={self.loss_p_percentile} is outside [0, 1]")
    if not 0.0 <= self.loss_moving_average_decay <= 1.0:
      _fail(f"--loss_moving_average_decay={self.loss_moving_average_decay} "
            "is outside [0, 1]")
    if not 0 <= int(self.burn_in_epoch) <= NUM_EPOCHS:
      _fail(f"--burn_in_epoch={self.burn_in_epoch} is outside [0, 100]")
    if self.curriculum not in CURRICULA:
      _fail(f"--curriculum={self.curriculum} is unknown; choose one of "
            f"{', '.join(CURRICULA)}")


CURRICULUM_FIELDS = tuple(f.name for f in dataclasses.fields(CurriculumConfig))


def curriculum_settings(config):
  """The six curriculum settings of any config that has them, as a dict."""
  return {name: getattr(config, name) for name in CURRICULUM_FIELDS}


@dataclasses.dataclass(kw_only=True)
class MentorMixConfig:
  """MentorMix's own settings (its script's flags)."""
  mixup_alpha: float = setting(
      8.0, "Alpha of the Beta distribution the mixup factor is drawn from (0:"
      " no mixup).")
  second_reweight: bool = setting(
      True, "Weight the mixed examples again with the curriculum (its own "
      "moving average, 'mixed').")


MENTORMIX_FIELDS = tuple(f.name for f in dataclasses.fields(MentorMixConfig))
# The MentorMix script's defaults where they differ from the MentorNet
# scripts' (mentormix `cifar_train_mentormix.py`).
MENTORMIX_DEFAULTS = {
    "dataset_name": "cifar100",
    "studentnet": "resnet32",
    "learning_rate_decay_factor": 0.9,
    "num_epochs_per_decay": 3.0,
    "max_number_of_steps": 100000,
    "example_dropout_rates": "0.0,100",
    "ema_decay": 0.9999
}


@dataclasses.dataclass(kw_only=True)
class TrainConfig(CurriculumConfig, MentorMixConfig):
  """A StudentNet training run; the training scripts' flags map onto it.

  `use_mentornet` False is the baseline (every weight 1; the curriculum
  settings are then unused). `regularization` and `schedule` are the
  StudentNet's rules for the script that runs (its registry entry gives
  them); None takes them from the entry.
  """
  train_log_dir: str = setting(
      "", "Directory for checkpoints, summaries and train_config.json; a "
      "rerun resumes here.")
  data_dir: str = setting("", "Directory of the training TFRecords.")
  dataset_name: str = setting("cifar10", "The dataset (cifar10, cifar100).")
  studentnet: str = setting(
      "resnet101", "The StudentNet: resnet101 (a wide ResNet), inception "
      "(CifarNet) or resnet32 (MentorMix's ResNet-32).")
  batch_size: int = setting(128, "The number of images in a batch.", low=1)
  learning_rate: float = setting(0.1, "The initial learning rate.")
  learning_rate_decay_factor: float = setting(0.1,
                                              "Learning rate decay factor.")
  num_epochs_per_decay: float = setting(
      50.0, "Number of epochs after which the learning rate decays.")
  max_number_of_steps: int = setting(39000,
                                     "The number of training steps.",
                                     low=1)
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
  num_residual_units: int = setting(9, "resnet101: units per stage.", low=1)
  resnet_widths: tuple = setting((160, 320, 640),
                                 "resnet101: the three stage widths.")
  seed: int = setting(
      0, "Seed of initialisation, data order, augmentation and example "
      "drop-out.",
      low=0,
      high=MAX_SEED)
  distribution_strategy: str = setting(
      "default", "default (one device), mirrored (all local GPUs) or "
      "multi_worker_mirrored (configured by TF_CONFIG).")
  log_every_n_steps: int = setting(100, "Steps between progress lines.", low=1)
  jit_compile: bool = setting(
      False, "Compile the step with XLA (slower than oneDNN on CPU).")
  use_mentornet: bool = setting(False,
                                "Weigh examples with the curriculum.",
                                flag=False)
  use_mentormix: bool = setting(False,
                                "MentorMix's step (needs use_mentornet).",
                                flag=False)
  ema_decay: float = setting(0.0,
                             "Averaged weights for evaluation (0: none).",
                             flag=False)
  regularization: str | None = setting(
      None, "The StudentNet's rule for its weight decay.", flag=False)
  schedule: str | None = setting(None,
                                 "The StudentNet's learning-rate schedule.",
                                 flag=False)

  def to_json_dict(self):
    """The run's configuration as stored in `train_config.json`."""
    d = dataclasses.asdict(self)
    d["resnet_widths"] = list(self.resnet_widths)
    for name in LOCATION_FIELDS:
      del d[name]
    return d

  def check(self):
    """Raises ValueError with one line for a flag out of range."""
    for name in ("batch_size", "max_number_of_steps", "log_every_n_steps",
                 "num_residual_units"):
      if getattr(self, name) <= 0:
        _fail(f"--{name}={getattr(self, name)} must be positive")
    for name in ("learning_rate", "num_epochs_per_decay"):
      value = getattr(self, name)
      if not (math.isfinite(value) and value > 0):
        _fail(f"--{name}={value} must be a positive number")
    if not 0 < self.learning_rate_decay_factor <= 1:
      _fail(f"--learning_rate_decay_factor={self.learning_rate_decay_factor}"
            " must lie in (0, 1]")
    for name in ("save_summaries_secs", "save_interval_secs"):
      value = getattr(self, name)
      if not (math.isfinite(value) and value >= 0):
        _fail(f"--{name}={value} must be a number of seconds >= 0")
    for name, unit in (("save_summaries_steps", "summarise"),
                       ("save_checkpoint_steps", "save")):
      if getattr(self, name) < 0:
        _fail(f"--{name}={getattr(self, name)} must be >= 0 (0: {unit} by "
              "time and at the end only)")
    if not 0 <= self.seed <= MAX_SEED:
      _fail(f"--seed={self.seed} must lie in [0, {MAX_SEED}]")
    widths = tuple(self.resnet_widths)
    if not (len(widths) == 3 and 16 <= widths[0] < widths[1] < widths[2]):
      _fail(f"--resnet_widths={','.join(map(str, widths))} must be three "
            "increasing widths, the first >= 16 (each stage that halves the "
            "image widens the shortcut by zero-padding, as the original's "
            "did)")
    if self.regularization not in REGULARIZATIONS + (None,):
      _fail(f"regularization '{self.regularization}' is unknown; choose one "
            f"of {', '.join(REGULARIZATIONS)}")
    if self.schedule not in SCHEDULES + (None,):
      _fail(f"schedule '{self.schedule}' is unknown; choose one of "
            f"{', '.join(SCHEDULES)}")
    if self.use_mentornet:
      self.check_curriculum()
      if (self.curriculum == CURRICULUM_MENTORNET and
          not self.trained_mentornet_dir):
        _fail("--trained_mentornet_dir is required (or "
              "--curriculum=loss_threshold)")
    if self.use_mentormix and not self.use_mentornet:
      _fail("MentorMix weighs with a curriculum: use_mentormix needs "
            "use_mentornet")
    if self.use_mentormix and self.jit_compile:
      _fail("--jit_compile: MentorMix's mixup draws (stateless categorical "
            "and Beta) differ under XLA, so a compiled run would not draw as "
            "an uncompiled one; run MentorMix without --jit_compile")
    if not (math.isfinite(self.mixup_alpha) and self.mixup_alpha >= 0):
      _fail(f"--mixup_alpha={self.mixup_alpha} must be a number >= 0 (0: no "
            "mixup)")
    if not 0.0 <= self.ema_decay < 1.0:
      _fail(f"ema_decay {self.ema_decay} must lie in [0, 1) (0: none)")


# Flags that may change between runs in one train_log_dir. A MentorNet run's
# max_number_of_steps may not: it defines the progress epoch.
RUNTIME_FIELDS = ("save_summaries_secs", "save_summaries_steps",
                  "save_interval_secs", "save_checkpoint_steps",
                  "max_number_of_steps", "log_every_n_steps",
                  "distribution_strategy", "jit_compile")
# Not part of a run's configuration: the run may be moved or renamed.
LOCATION_FIELDS = ("train_log_dir",)
# Compared as paths: the same directory may be spelled several ways.
PATH_FIELDS = ("data_dir", "trained_mentornet_dir")
# Fields that runs of older versions lack: a missing one matches its default
# (the rules match whatever they are: older versions applied the entry's).
NEW_FIELDS = ("regularization", "schedule", "curriculum", "use_mentormix",
              "ema_decay") + MENTORMIX_FIELDS

# The other scripts' configurations (`tool_configs.py`), named here too.
EvalConfig = tool_configs.EvalConfig
PrepareConfig = tool_configs.PrepareConfig
MentorNetTrainConfig = tool_configs.MentorNetTrainConfig
