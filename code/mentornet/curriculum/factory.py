"""The one place curricula are built, for the scripts and the Keras models.

`make(kind, ...)` gives the curriculum layer of a run: `uniform` (the
baseline, every weight 1), `mentornet` (a frozen MentorNet, the original's)
or `loss_threshold` (MentorMix's simplest). `role` says which of a run's
curricula it is: `FIRST` weighs the examples (the original's "individual"
curriculum), `MIXED` is MentorMix's second weighting of the mixed examples,
with its own moving average and drop-out draws (seed + 1) and its own name.
"""

from mentornet import errors
from mentornet import config as config_lib
from mentornet.curriculum import layers

UNIFORM = "uniform"
FIRST, MIXED = "first", "mixed"
KINDS = (UNIFORM, config_lib.CURRICULUM_MENTORNET,
         config_lib.CURRICULUM_THRESHOLD)
NAMES = {
    FIRST: {
        UNIFORM: "uniform_curriculum",
        config_lib.CURRICULUM_MENTORNET: "mentor_inputs",
        config_lib.CURRICULUM_THRESHOLD: "threshold_curriculum"
    },
    MIXED: {
        UNIFORM: "mixed_uniform_curriculum",
        config_lib.CURRICULUM_MENTORNET: "mentor_inputs_mixed",
        config_lib.CURRICULUM_THRESHOLD: "threshold_curriculum_mixed"
    },
}
# The settings of `config.CurriculumConfig` a MentorNet curriculum takes (the
# MentorNet itself is given as an object).
MENTORNET_SETTINGS = ("loss_p_percentile", "burn_in_epoch",
                      "fixed_epoch_after_burn_in", "loss_moving_average_decay",
                      "example_dropout_rates")


def make(kind,
         *,
         mentornet=None,
         max_number_of_steps=None,
         seed=0,
         role=FIRST,
         **settings):
  """A curriculum layer; create it inside `strategy.scope()` to train under
  a distribution strategy.

  Args:
    kind: one of `KINDS`.
    mentornet: the frozen `MentorNet` of kind `mentornet`.
    max_number_of_steps: the run's total steps (the progress epoch); None to
      set it with the first `fit`.
    seed: the run's seed (drop-out draws; the mixed curriculum's is seed+1).
    role: `FIRST` or `MIXED`.
    **settings: curriculum settings of `config.CurriculumConfig`; those the
      kind does not use are ignored (`loss_threshold` uses
      `loss_p_percentile` only, 0.75 when not given, as the original).

  Raises:
    ValueError: an unknown kind or role, a missing MentorNet, a setting out
      of range.
  """
  if kind not in KINDS or role not in NAMES:
    raise errors.BadInput(
        f"curriculum '{kind}' ({role}) is unknown; choose one of"
        f" {', '.join(KINDS)}")
  name = NAMES[role][kind]
  if kind == UNIFORM:
    return layers.UniformCurriculum(name=name)
  if kind == config_lib.CURRICULUM_THRESHOLD:
    return layers.ThresholdCurriculum(settings.get(
        "loss_p_percentile", config_lib.THRESHOLD_PERCENTILE),
                                      name=name)
  if mentornet is None:
    raise errors.BadInput("a MentorNet curriculum needs a MentorNet")
  return layers.MentorNetCurriculum(
      mentornet,
      max_number_of_steps,
      seed=seed + (role == MIXED),
      name=name,
      **{
          k: v for k, v in settings.items() if k in MENTORNET_SETTINGS
      })
