"""Shared test setup: quiet TensorFlow, two logical CPUs, paths to data."""

import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_TFDS = REPO.parent / "shared" / "tensorflow_datasets"
sys.path.insert(0, str(REPO / "code"))

# Two logical CPU devices so MirroredStrategy can be tested on one machine.
# This must run before TensorFlow initialises its devices.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)


@pytest.fixture
def repo():
  return REPO


@pytest.fixture
def tfds_dir():
  if not SHARED_TFDS.is_dir():
    pytest.skip(f"{SHARED_TFDS} not present")
  return SHARED_TFDS
