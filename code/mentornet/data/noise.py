"""Label-noise generators: pure, seeded NumPy functions.

`uniform` is the paper's noise: with probability `fraction` a label is replaced
by a class drawn uniformly at random, which may be the true one, so the share
of labels that really change is `fraction * (K - 1) / K`.
"""

import numpy as np

from mentornet import errors

NOISE_TYPES = ("uniform", "flip", "pairflip", "asymmetric")

# CIFAR-10 class-dependent noise (truck->automobile, bird->airplane,
# deer->horse, cat<->dog); classes without an entry keep their label.
CIFAR10_ASYMMETRIC = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}


def cifar10_asymmetric_map():
  """Target class of each CIFAR-10 class under asymmetric noise."""
  target = np.arange(10)
  for source, dest in CIFAR10_ASYMMETRIC.items():
    target[source] = dest
  return target


def superclass_next_map(fine_to_coarse):
  """Maps each fine class to the next fine class of its superclass (cyclic).

  Args:
    fine_to_coarse: int array, the superclass of each fine class.

  Returns:
    int array of the same length: the target class of each fine class.
  """
  fine_to_coarse = np.asarray(fine_to_coarse)
  target = np.arange(len(fine_to_coarse))
  for coarse in np.unique(fine_to_coarse):
    members = np.flatnonzero(fine_to_coarse == coarse)
    target[members] = np.roll(members, -1)
  return target


def noisy_labels(labels,
                 num_classes,
                 noise_type="uniform",
                 fraction=0.2,
                 seed=0,
                 target_map=None):
  """Returns corrupted copies of `labels`.

  Args:
    labels: int array of clean labels in [0, num_classes).
    num_classes: K.
    noise_type: `uniform` (any class, maybe the same), `flip` (always another
      class, uniformly), `pairflip` (k -> k + 1 mod K) or `asymmetric`
      (k -> target_map[k]).
    fraction: probability in [0, 1] that a label is corrupted.
    seed: seed of the NumPy generator; the same seed gives the same labels.
    target_map: for `asymmetric`, the target class of each class.

  Returns:
    int64 array of noisy labels.

  Raises:
    ValueError: unknown noise type, fraction outside [0, 1], labels out of
      range, or `asymmetric` without a target map.
  """
  if noise_type not in NOISE_TYPES:
    raise errors.BadInput(f"unknown noise_type '{noise_type}'; choose one of "
                          f"{', '.join(NOISE_TYPES)}")
  if not 0.0 <= fraction <= 1.0:
    raise errors.BadInput(f"noise fraction {fraction} is outside [0, 1]")
  labels = np.asarray(labels, np.int64)
  if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
    raise errors.BadInput(f"labels must lie in [0, {num_classes})")
  rng = np.random.default_rng(seed)
  corrupt = rng.random(labels.shape) < fraction
  if noise_type == "uniform":
    candidates = rng.integers(0, num_classes, labels.shape)
  elif noise_type == "flip":
    candidates = (labels +
                  rng.integers(1, num_classes, labels.shape)) % num_classes
  elif noise_type == "pairflip":
    candidates = (labels + 1) % num_classes
  else:
    if target_map is None or len(target_map) != num_classes:
      raise errors.BadInput(
          f"asymmetric noise needs a target class for each of {num_classes} "
          "classes")
    candidates = np.asarray(target_map, np.int64)[labels]
  return np.where(corrupt, candidates, labels)


def confusion_counts(clean, noisy, num_classes):
  """`counts[i, j]`: examples of clean class i labelled j."""
  counts = np.zeros([num_classes, num_classes], np.int64)
  np.add.at(counts, (np.asarray(clean), np.asarray(noisy)), 1)
  return counts
