"""Training a StudentNet: one step, two drivers, and the run's safety.

  step.py         the training step both drivers run
  loop.py         the scripts' loop: run(config), summaries, saves, signals
  keras_model.py  MentorNetModel: model.fit with a curriculum
  keras_mentormix.py  MentorMixModel: model.fit with MentorMix
  fit_inputs.py   what fit hands a curriculum model: loss, labels, steps
  weight_average.py  averaged weights for evaluation (MentorMix)
  build.py        strategy, StudentNet, schedule, optimizer, curriculum
  validate.py     flags and the run's record checked before any work
  safety.py       stop signals, finite state, guarded saves
  checkpoints.py  a run's checkpoints from the files on disk
  run_dir.py      the run directory: lock, record file, worker roles

The names below are the ones scripts, tests and benchmarks use.
"""

from mentornet.config import TrainConfig
from mentornet.training.build import build_training
from mentornet.training.build import make_curriculum
from mentornet.training.build import make_strategy
from mentornet.training.build import with_rules
from mentornet.training.loop import build_step
from mentornet.training.loop import run
from mentornet.training.safety import Interrupted
from mentornet.training.safety import TrainingError
from mentornet.training.validate import check_log_dir
from mentornet.training.validate import validate

__all__ = ["TrainConfig", "build_training", "make_curriculum", "make_strategy",
           "with_rules", "build_step", "run", "Interrupted", "TrainingError",
           "check_log_dir", "validate"]
