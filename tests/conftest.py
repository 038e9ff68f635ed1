"""Shared test setup: quiet TensorFlow, two logical CPUs, paths to data."""

import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

REPO = pathlib.Path(__file__).resolve().parents[1]
# The real CIFAR data beside the checkout; MENTORNET_TEST_TFDS overrides it
# (a missing path runs the tests as a clone on its own does).
SHARED_TFDS = pathlib.Path(
    os.environ.get("MENTORNET_TEST_TFDS",
                   REPO.parent / "shared" / "tensorflow_datasets"))
DEMO_TRAIN = REPO / "data" / "demo" / "cifar10" / "0.4"
sys.path.insert(0, str(REPO / "code"))

# Two logical CPU devices so MirroredStrategy can be tested on one machine.
# This must run before TensorFlow initialises its devices.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)


@pytest.fixture
def repo():
  return REPO


def _demo_examples(n):
  """The first n demo records as (uint8 image, clean label) pairs."""
  from mentornet.data import records  # pylint: disable=g-import-not-at-top
  files = sorted(str(p) for p in DEMO_TRAIN.glob("cifar10_train-*"))
  out = []
  for serialized in tf.data.TFRecordDataset(files).take(n):
    ex = records.parse_example(serialized)
    out.append((tf.io.decode_png(ex["png"],
                                 channels=3).numpy(), int(ex["clean_label"])))
  return out


def _store_small_tfds(data_dir, n_train=400, n_test=150):
  """Prepared tensorflow-datasets CIFAR-10 and CIFAR-100 (same names,
  versions and features as the real ones) made from the embedded demo
  images, so that `tfds.builder("cifar10", data_dir=...)` reads them."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  examples = _demo_examples(n_train + n_test)
  for name in ("cifar10", "cifar100"):
    reference = tfds.builder(name, data_dir=str(data_dir / "reference"))
    splits = {}
    for split, rows in (("train", examples[:n_train]), ("test",
                                                        examples[n_train:])):
      items = []
      for i, (image, label) in enumerate(rows):
        item = {"id": f"{split}_{i:05d}", "image": image}
        if name == "cifar10":
          item["label"] = label
        else:  # a deterministic fine label; its coarse class as CIFAR-100's
          item["label"] = (label * 7 + i) % 100
          item["coarse_label"] = item["label"] % 20
        items.append((item["id"], item))
      splits[split] = items
    tfds.dataset_builders.store_as_tfds_dataset(
        name=name,
        version=str(reference.version),
        features=reference.info.features,
        split_datasets=splits,
        data_dir=str(data_dir),
        disable_shuffling=True)
  return data_dir


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory):
  """A prepared tensorflow-datasets directory with CIFAR-10 and CIFAR-100:
  the real one beside the checkout, or one made from the demo records."""
  if SHARED_TFDS.is_dir():
    return SHARED_TFDS
  return _store_small_tfds(tmp_path_factory.mktemp("tfds"))


def _scalars(log_dir):
  """{tag: [(step, value)]} of the TensorBoard summaries in `log_dir`."""
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  acc = event_accumulator.EventAccumulator(
      str(log_dir), size_guidance={event_accumulator.TENSORS: 0})
  acc.Reload()
  return {
      tag: [(e.step, float(tf.make_ndarray(e.tensor_proto)))
            for e in acc.Tensors(tag)] for tag in acc.Tags()["tensors"]
  }


def _grid_commands(repo, studentnet):
  """The grid script's command lines (`--print`), split into argv lists."""
  import shlex  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  out = subprocess.run([
      "bash",
      str(repo / "commands" / f"train_studentnet_{studentnet}.sh"), "--print"
  ],
                       capture_output=True,
                       text=True,
                       check=True).stdout
  return [shlex.split(line) for line in out.splitlines()]


@pytest.fixture
def scalars():
  return _scalars


@pytest.fixture
def grid_commands():
  return _grid_commands


@pytest.fixture
def demo():
  """The embedded demo training data directory, relative to the repo."""
  return "data/demo/cifar10/0.4"


@pytest.fixture(autouse=True)
def _separate_collective_keys():
  """Gives each test's MirroredStrategy instances their own collective keys.

  Strategies over the same devices in one process otherwise reuse instance
  keys, and a collective of one test can meet another of a different type
  ("Collective instance 100 expected type 2 ..."). TensorFlow's own tests
  bump this class attribute the same way.
  """
  tf.distribute.MirroredStrategy._collective_key_base += 100000  # pylint: disable=protected-access
  yield
