"""Predefined curricula v*: target weights that MentorNet PD learns to imitate.

Each function takes a NumPy array with columns (loss, loss_diff, label, epoch)
and returns float32 weights in [0, 1], one per row, as the original
`training_mentornet/models.py` does. Unlike the
original, `gamma` really reaches the functions that use it.
"""

import numpy as np

from mentornet import errors

DEFAULT_FOCAL_GAMMA = 2.0
DEFAULT_SPCL_GAMMA = 1.0
PD_BURN_IN_EPOCH = 18  # MentorNet PD: uniform weights up to this epoch,
PD_SPCL_EPOCH = 90  # self-paced until here, then SPCL linear.


def _columns(inbatch):
  inbatch = np.asarray(inbatch, np.float64)
  if inbatch.ndim != 2 or inbatch.shape[1] < 4:
    raise errors.BadInput(
        f"v* input must have shape [N, 4] (loss, loss_diff, label, epoch), "
        f"got {list(inbatch.shape)}")
  return inbatch[:, 0], inbatch[:, 1], inbatch[:, 2], inbatch[:, 3]


def vstar_baseline(inbatch, gamma=None):
  """Every example weighs 1."""
  del gamma
  return np.ones(len(_columns(inbatch)[0]), np.float32)


def vstar_self_paced(inbatch, gamma=None):
  """1 where loss_diff <= 0 (loss below the moving percentile), else 0."""
  del gamma
  _, loss_diff, _, _ = _columns(inbatch)
  return (loss_diff <= 0).astype(np.float32)


def vstar_hard_example_mining(inbatch, gamma=None):
  """1 where loss_diff >= 0, and 1 wherever label > 0."""
  del gamma
  _, loss_diff, label, _ = _columns(inbatch)
  return ((loss_diff >= 0) | (label > 0)).astype(np.float32)


def vstar_focal_loss(inbatch, gamma=None):
  """`(1 - exp(-loss)) ** gamma`, gamma 2 by default."""
  gamma = DEFAULT_FOCAL_GAMMA if gamma is None else gamma
  loss, _, _, _ = _columns(inbatch)
  return ((1.0 - np.exp(-loss))**gamma).astype(np.float32)


def vstar_spcl_linear(inbatch, gamma=None):
  """`clip(1 - loss_diff / gamma, 0, 1)`, gamma 1 by default."""
  gamma = DEFAULT_SPCL_GAMMA if gamma is None else gamma
  if gamma <= 0:
    raise errors.BadInput(f"vstar_spcl_linear needs gamma > 0, got {gamma}")
  _, loss_diff, _, _ = _columns(inbatch)
  return np.clip(1.0 - loss_diff / gamma, 0.0, 1.0).astype(np.float32)


def vstar_mentornet_pd(inbatch, gamma=None):
  """Uniform while epoch <= 18, self-paced until 90, then SPCL linear."""
  _, _, _, epoch = _columns(inbatch)
  return np.where(
      epoch <= PD_BURN_IN_EPOCH, 1.0,
      np.where(epoch < PD_SPCL_EPOCH, vstar_self_paced(inbatch),
               vstar_spcl_linear(inbatch, gamma))).astype(np.float32)


VSTAR_FUNCTIONS = {
    f.__name__: f
    for f in (vstar_baseline, vstar_self_paced, vstar_hard_example_mining,
              vstar_focal_loss, vstar_spcl_linear, vstar_mentornet_pd)
}


def get_vstar(name):
  """Returns the v* function called `name`, or raises a one-line ValueError."""
  if name not in VSTAR_FUNCTIONS:
    raise errors.BadInput(
        f"unknown vstar_fn '{name}'; choose one of "
        f"{', '.join(sorted(VSTAR_FUNCTIONS))}, or data_driven")
  return VSTAR_FUNCTIONS[name]
