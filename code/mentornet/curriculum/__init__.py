"""Per-step example weights: the curriculum and the minimised loss.

  arithmetic.py  the original's percentile, progress epoch and drop-out
  layers.py      UniformCurriculum, MentorNetCurriculum, ThresholdCurriculum
                 (Keras layers)
  factory.py     make(): the one place a run's curricula are built
  mentormix.py   MentorMix's draws (partners, factors) and mixup
  objective.py   weighted_objective; the noise diagnostics
  evidence.py    LabelEvidence: per-example sums over a run (which labels
                 look wrong)

The names below are the ones the rest of the library uses.
"""

from mentornet.curriculum.arithmetic import dropout_key
from mentornet.curriculum.arithmetic import dropout_mask
from mentornet.curriculum.arithmetic import epoch_boundaries
from mentornet.curriculum.arithmetic import keep_fraction
from mentornet.curriculum.arithmetic import kept_count
from mentornet.curriculum.arithmetic import nearest_percentile
from mentornet.curriculum.arithmetic import parse_dropout_rate_list
from mentornet.curriculum.arithmetic import percentile_fraction
from mentornet.curriculum.arithmetic import progress_epoch
from mentornet.curriculum.arithmetic import training_epoch
from mentornet.curriculum.layers import CurriculumOutput
from mentornet.curriculum.layers import DATA_UTIL_THRESHOLD
from mentornet.curriculum.factory import make as make_curriculum
from mentornet.curriculum.layers import MentorNetCurriculum
from mentornet.curriculum.layers import ThresholdCurriculum
from mentornet.curriculum.layers import UniformCurriculum
from mentornet.curriculum.objective import NOISE_SUMS
from mentornet.curriculum.objective import noise_diagnostics
from mentornet.curriculum.objective import noise_masks
from mentornet.curriculum.objective import noise_sums
from mentornet.curriculum.objective import Objective
from mentornet.curriculum.objective import weighted_objective

__all__ = [
    "dropout_key", "dropout_mask", "epoch_boundaries", "keep_fraction",
    "kept_count", "nearest_percentile", "parse_dropout_rate_list",
    "percentile_fraction", "progress_epoch", "training_epoch",
    "CurriculumOutput", "DATA_UTIL_THRESHOLD", "make_curriculum",
    "MentorNetCurriculum", "ThresholdCurriculum", "UniformCurriculum",
    "NOISE_SUMS", "noise_diagnostics", "noise_masks", "noise_sums", "Objective",
    "weighted_objective"
]
