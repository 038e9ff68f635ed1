"""Label-noise generators."""

import numpy as np
import pytest

from mentornet.data import noise

LABELS = np.tile(np.arange(10), 20000)  # 200,000 labels, balanced


def changed(noisy):
  return np.mean(noisy != LABELS)


def test_uniform_changes_p_times_k_minus_one_over_k():
  noisy = noise.noisy_labels(LABELS, 10, "uniform", 0.4, seed=0)
  assert changed(noisy) == pytest.approx(0.36, abs=0.005)
  counts = noise.confusion_counts(LABELS, noisy, 10)
  # off-diagonal mass spread evenly: each wrong class gets ~0.04 of a class
  off = counts[~np.eye(10, dtype=bool)] / 20000
  assert np.all(np.abs(off - 0.04) < 0.01)


def test_same_seed_same_labels_other_seed_different():
  a = noise.noisy_labels(LABELS, 10, "uniform", 0.2, seed=3)
  b = noise.noisy_labels(LABELS, 10, "uniform", 0.2, seed=3)
  c = noise.noisy_labels(LABELS, 10, "uniform", 0.2, seed=4)
  np.testing.assert_array_equal(a, b)
  assert np.any(a != c)


def test_flip_always_changes():
  noisy = noise.noisy_labels(LABELS, 10, "flip", 0.3, seed=0)
  assert changed(noisy) == pytest.approx(0.3, abs=0.005)
  assert np.all(noisy[noisy != LABELS] != LABELS[noisy != LABELS])


def test_pairflip():
  noisy = noise.noisy_labels(LABELS, 10, "pairflip", 1.0, seed=0)
  np.testing.assert_array_equal(noisy, (LABELS + 1) % 10)


def test_asymmetric_cifar10():
  target = noise.cifar10_asymmetric_map()
  noisy = noise.noisy_labels(LABELS,
                             10,
                             "asymmetric",
                             1.0,
                             seed=0,
                             target_map=target)
  want = {0: 0, 1: 1, 2: 0, 3: 5, 4: 7, 5: 3, 6: 6, 7: 7, 8: 8, 9: 1}
  for clean, noisy_label in want.items():
    assert set(noisy[LABELS == clean]) == {noisy_label}


def test_superclass_next_map():
  fine_to_coarse = np.array([1, 0, 1, 0, 1])
  np.testing.assert_array_equal(noise.superclass_next_map(fine_to_coarse),
                                [2, 3, 4, 1, 0])


def test_zero_noise_is_identity():
  np.testing.assert_array_equal(
      noise.noisy_labels(LABELS, 10, "uniform", 0.0, seed=0), LABELS)


@pytest.mark.parametrize("kwargs,message", [
    ({
        "noise_type": "gaussian"
    }, "unknown noise_type 'gaussian'"),
    ({
        "fraction": 1.2
    }, "outside \\[0, 1\\]"),
    ({
        "noise_type": "asymmetric"
    }, "needs a target class"),
])
def test_errors(kwargs, message):
  with pytest.raises(ValueError, match=message):
    noise.noisy_labels(LABELS, 10, **kwargs)
