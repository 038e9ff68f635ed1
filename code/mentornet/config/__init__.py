"""Every run's configuration, declared once, with defaults and meanings.

Plain dataclasses (no TensorFlow, no flags): the command line builds its
flags from these fields (`mentornet_cli.flags_lib`), the library reads them, and
`train_config.json` stores them. A training run's `TrainConfig` is its
`method` and one part per concern (model, data, optimization, curriculum,
MentorMix, run); each setting has one flat name, its flag's and its key in
`train_config.json`, which stays flat as every version wrote it (`settings`).
The model part is shared with the eval job's `EvalConfig`.

The package: `settings` (how a setting is declared, flat names), `parts`
(the parts of a training run), `tools` (the other scripts' configs); this
module holds `TrainConfig` and re-exports the rest.
"""

import dataclasses

from mentornet.config import parts
from mentornet.config import settings
from mentornet.config import tools
# The parts and their named values, re-exported (`config.ModelConfig`,
# `config.REGULARIZATION_NONE`, ...).
from mentornet.config.parts import (
    NUM_EPOCHS, MAX_SEED, REGULARIZATION_ADDED,
    REGULARIZATION_SCALED_BY_WEIGHTS, REGULARIZATION_NONE, REGULARIZATIONS,
    SCHEDULE_PIECEWISE, SCHEDULE_EXPONENTIAL, SCHEDULE_CONSTANT,
    SCHEDULE_EXPONENTIAL_UNROUNDED, SCHEDULES, CURRICULUM_MENTORNET,
    CURRICULUM_THRESHOLD, CURRICULA, THRESHOLD_PERCENTILE, CURRICULUM_FIELDS,
    MENTORMIX_FIELDS, STRATEGIES, FLOAT32, MIXED_BFLOAT16, MIXED_FLOAT16,
    PRECISIONS, ModelConfig, DataConfig, OptimizationConfig, CurriculumConfig,
    MentorMixConfig, RunConfig)

__all__ = [
    "NUM_EPOCHS", "MAX_SEED", "REGULARIZATION_ADDED",
    "REGULARIZATION_SCALED_BY_WEIGHTS", "REGULARIZATION_NONE",
    "REGULARIZATIONS", "SCHEDULE_PIECEWISE", "SCHEDULE_EXPONENTIAL",
    "SCHEDULE_CONSTANT", "SCHEDULE_EXPONENTIAL_UNROUNDED", "SCHEDULES",
    "CURRICULUM_MENTORNET", "CURRICULUM_THRESHOLD", "CURRICULA",
    "THRESHOLD_PERCENTILE", "CURRICULUM_FIELDS", "MENTORMIX_FIELDS",
    "STRATEGIES", "FLOAT32", "MIXED_BFLOAT16", "MIXED_FLOAT16", "PRECISIONS",
    "ModelConfig", "DataConfig", "OptimizationConfig", "CurriculumConfig",
    "MentorMixConfig", "RunConfig", "BASELINE", "MENTORNET", "MENTORMIX",
    "METHODS", "MENTORMIX_DEFAULTS", "TrainConfig", "EvalConfig", "EVAL_MODES",
    "PrepareConfig", "MentorNetTrainConfig", "MentorNetDataConfig",
    "MentorNetEvalConfig", "MentorNetPictureConfig", "PlotConfig",
    "RUNTIME_FIELDS", "LOCATION_FIELDS", "PATH_FIELDS", "NEW_FIELDS",
    "default_of", "setting", "section", "flag_help", "fail"
]

setting, section = settings.setting, settings.section
flag_help = settings.flag_help
fail = parts.fail

# A run's method, one per training script: every weight 1, a curriculum's
# weights, or MentorMix's step (mixup of the curriculum's picks).
BASELINE, MENTORNET, MENTORMIX = "baseline", "mentornet", "mentormix"
METHODS = (BASELINE, MENTORNET, MENTORMIX)

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
class TrainConfig:
  """A StudentNet training run: its method and one part per concern; the
  training scripts' flags map onto the parts' settings by flat name.

  `method` BASELINE weighs every example 1 (the curriculum part is then
  unused); MENTORNET weighs them with the curriculum; MENTORMIX runs
  MentorMix's step with it. Build one from flat names with
  `TrainConfig.from_flat(studentnet=..., max_number_of_steps=...)`.
  """
  method: str = setting(BASELINE,
                        "baseline, mentornet or mentormix (the script's).",
                        flag=False,
                        choices=METHODS)
  model: ModelConfig = section(ModelConfig)
  data: DataConfig = section(DataConfig)
  optimization: OptimizationConfig = section(OptimizationConfig)
  curriculum: CurriculumConfig = section(CurriculumConfig)
  mentormix: MentorMixConfig = section(MentorMixConfig)
  run: RunConfig = section(RunConfig)

  @classmethod
  def from_flat(cls, **values):
    """A TrainConfig from flat names; a record's `use_mentornet` and
    `use_mentormix` (how `train_config.json` names the method) are read as
    the method.

    Raises:
      TypeError: a name that is no setting.
    """
    use_mentornet = values.pop("use_mentornet", None)
    use_mentormix = values.pop("use_mentormix", None)
    if "method" not in values and (use_mentornet or use_mentormix):
      values["method"] = MENTORMIX if use_mentormix else MENTORNET
    return settings.from_flat(cls, values)

  def flat(self):
    """Every setting by flat name (the flags' names), and `method`."""
    return settings.to_flat(self)

  def replace(self, **changes):
    """A copy with the settings named (flat names) changed."""
    return settings.replace(self, **changes)

  @property
  def weighs_examples(self):
    """Whether a curriculum weighs the examples (every method but the
    baseline)."""
    return self.method != BASELINE

  def to_json_dict(self):
    """The run's configuration as stored in `train_config.json`: flat, the
    method as `use_mentornet`/`use_mentormix` (as every version wrote it),
    without the run's own location."""
    d = self.flat()
    method = d.pop("method")
    d.update(use_mentornet=method != BASELINE,
             use_mentormix=method == MENTORMIX,
             resnet_widths=list(self.model.resnet_widths))
    for name in LOCATION_FIELDS:
      del d[name]
    return d

  def check(self):
    """Raises ValueError with one line for a flag out of range."""
    if self.method not in METHODS:
      fail(f"method '{self.method}' is unknown; choose one of "
           f"{', '.join(METHODS)}")
    settings.check_ranges(self)
    for part in (self.model, self.optimization, self.mentormix, self.run):
      part.check()
    if self.weighs_examples:
      self.curriculum.check()
      if (self.curriculum.kind == CURRICULUM_MENTORNET and
          not self.curriculum.trained_mentornet_dir):
        fail("--trained_mentornet_dir is required (or "
             "--curriculum=loss_threshold)")
    if self.method == MENTORMIX and self.run.jit_compile:
      fail("--jit_compile: MentorMix's mixup draws (stateless categorical "
           "and Beta) differ under XLA, so a compiled run would not draw as "
           "an uncompiled one; run MentorMix without --jit_compile")


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
              "ema_decay", "precision") + MENTORMIX_FIELDS


def default_of(name):
  """The TrainConfig default of the setting with flat name `name`."""
  return TrainConfig().to_json_dict()[name]


# The other scripts' configurations (`tools.py`), named here too.
EvalConfig = tools.EvalConfig
EVAL_MODES = tools.EVAL_MODES
PrepareConfig = tools.PrepareConfig
MentorNetTrainConfig = tools.MentorNetTrainConfig
MentorNetDataConfig = tools.MentorNetDataConfig
MentorNetEvalConfig = tools.MentorNetEvalConfig
MentorNetPictureConfig = tools.MentorNetPictureConfig
PlotConfig = tools.PlotConfig
