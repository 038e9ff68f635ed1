"""Training a StudentNet: one step and its two drivers.

  step.py         the training step both drivers run
  loop.py         the scripts' loop: run(config), set up, restore, steps
  distributed.py  build_step: the compiled step over one distributed batch
  reporting.py    summaries, progress lines, the closing line
  keras_model.py  MentorNetModel: model.fit with a curriculum
  keras_mentormix.py  MentorMixModel: model.fit with MentorMix
  fit_inputs.py   what fit hands a curriculum model: loss, labels, steps
  fit_metrics.py  the epoch metrics fit reports for a curriculum model
  build.py        strategy, StudentNet, schedule, optimizer, curriculum
  validate.py     flags and the run's record checked before any work

A run's safety (directory, record, checkpoints, signals) is the room below,
`mentornet.runs`; the errors are `mentornet.errors`.

The names below are the ones scripts, tests and benchmarks use.
"""

from mentornet.config import TrainConfig
from mentornet.training.build import build_training
from mentornet.training.build import make_curriculum
from mentornet.training.build import make_strategy
from mentornet.training.build import with_rules
from mentornet.training.distributed import build_step
from mentornet.training.loop import run
from mentornet.errors import Interrupted
from mentornet.errors import TrainingError
from mentornet.training.validate import check_log_dir
from mentornet.training.validate import validate

__all__ = [
    "TrainConfig", "build_training", "make_curriculum", "make_strategy",
    "with_rules", "build_step", "run", "Interrupted", "TrainingError",
    "check_log_dir", "validate"
]
