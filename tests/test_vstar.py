"""Predefined v* at hand-picked points (the original `models.py`)."""

import numpy as np
import pytest

from mentornet.learning import vstar

ROWS = np.array(
    [
        # loss, loss_diff, label, epoch
        [0.0, -1.0, 0, 0],
        [1.0, 0.0, 0, 18],
        [2.0, 0.5, 0, 19],
        [3.0, 2.0, 1, 89],
        [4.0, -0.5, 0, 90],
        [5.0, 0.25, 0, 99],
    ],
    np.float32)


def test_baseline():
  np.testing.assert_array_equal(vstar.vstar_baseline(ROWS), np.ones(6))


def test_self_paced():
  np.testing.assert_array_equal(vstar.vstar_self_paced(ROWS),
                                [1, 1, 0, 0, 1, 0])


def test_hard_example_mining():
  np.testing.assert_array_equal(vstar.vstar_hard_example_mining(ROWS),
                                [0, 1, 1, 1, 0, 1])


def test_focal_loss_default_and_gamma():
  want = (1 - np.exp(-ROWS[:, 0]))**2
  np.testing.assert_allclose(vstar.vstar_focal_loss(ROWS), want, rtol=1e-6)
  assert vstar.vstar_focal_loss(ROWS)[0] == 0.0
  np.testing.assert_allclose(vstar.vstar_focal_loss(ROWS, gamma=1.0),
                             1 - np.exp(-ROWS[:, 0]),
                             rtol=1e-6)


def test_spcl_linear_default_and_gamma():
  np.testing.assert_allclose(vstar.vstar_spcl_linear(ROWS),
                             [1, 1, 0.5, 0, 1, 0.75])
  np.testing.assert_allclose(vstar.vstar_spcl_linear(ROWS, gamma=4.0),
                             [1, 1, 0.875, 0.5, 1, 0.9375])
  with pytest.raises(ValueError, match="gamma > 0"):
    vstar.vstar_spcl_linear(ROWS, gamma=0.0)


def test_mentornet_pd():
  # epoch <= 18: 1; 18 < epoch < 90: self-paced; epoch >= 90: spcl linear
  np.testing.assert_allclose(vstar.vstar_mentornet_pd(ROWS),
                             [1, 1, 0, 0, 1, 0.75])
  np.testing.assert_allclose(vstar.vstar_mentornet_pd(ROWS, gamma=0.5)[5], 0.5)


def test_unknown_name():
  assert vstar.get_vstar("vstar_self_paced") is vstar.vstar_self_paced
  with pytest.raises(ValueError, match="unknown vstar_fn 'vstar_nope'"):
    vstar.get_vstar("vstar_nope")
