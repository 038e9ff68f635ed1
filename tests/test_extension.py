"""A new StudentNet or dataset is one entry, registered without touching the
library: both train through `training.run` and evaluate through
`evaluate.run`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mentornet.config import EvalConfig
from mentornet.data import datasets
from mentornet.data import records
from mentornet.evaluation import evaluate
from mentornet.models import students
from mentornet import training


def build_student(config):
  """The StudentNet of a TrainConfig or EvalConfig."""
  data = getattr(config, "data", config)
  return students.build_for(config.model, data.dataset_name)


PD = "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd"


@pytest.fixture
def registries(monkeypatch):
  """Registrations made in a test are undone after it."""
  for module in (students, datasets):
    monkeypatch.setattr(module.REGISTRY, "entries",
                        dict(module.REGISTRY.entries))


def tiny_net(num_classes, image_size, config):
  del config
  images = keras.Input((image_size, image_size, 3))
  x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(images)
  x = keras.layers.GlobalAveragePooling2D()(x)
  return keras.Model(images, keras.layers.Dense(num_classes)(x))


def test_toy_studentnet_trains_two_steps(repo, tmp_path, registries):
  del registries
  rules = students.Rules(regularization="none", schedule="constant")
  students.register(
      students.StudentNet(
          name="tiny",
          build=tiny_net,
          make_optimizer=lambda schedule: keras.optimizers.SGD(schedule),
          rules={
              students.BASELINE: rules,
              students.MENTORNET: rules
          },
          pad=lambda image, size: tf.pad(image, [[2, 2], [2, 2], [0, 0]])))
  for use_mentornet in (False, True):
    log_dir = tmp_path / f"run{use_mentornet}"
    metrics = training.run(
        training.TrainConfig.from_flat(train_log_dir=str(log_dir),
                                       data_dir=str(repo /
                                                    "data/demo/cifar10/0.4"),
                                       studentnet="tiny",
                                       batch_size=8,
                                       max_number_of_steps=2,
                                       use_mentornet=use_mentornet,
                                       trained_mentornet_dir=str(repo / PD)))
    assert np.isfinite(metrics["total_loss"])
    assert metrics["decay_loss"] == 0.0
    assert tf.train.latest_checkpoint(str(log_dir)).endswith("model.ckpt-2")
  results = evaluate.run(
      EvalConfig.from_flat(checkpoint_dir=str(tmp_path / "runFalse"),
                           data_dir=str(repo / "data/demo/cifar10/val"),
                           eval_once=True,
                           batch_size=500))
  assert 0.0 <= results[2][0] <= 1.0


def write_toy_records(directory, name, split, n, size, num_classes):
  directory.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(0)
  path = directory / f"{name}_{split}-00000-of-00001"
  with tf.io.TFRecordWriter(str(path)) as writer:
    for i in range(n):
      image = rng.integers(0, 256, [size, size, 3]).astype(np.uint8)
      label = int(rng.integers(0, num_classes))
      writer.write(
          records.make_example(
              tf.io.encode_png(image).numpy(), label, label, i))


@pytest.mark.slow
def test_toy_dataset_with_other_size_and_classes(tmp_path, registries):
  del registries
  datasets.register(datasets.Dataset("toy16", num_classes=3, image_size=16))
  write_toy_records(tmp_path / "train", "toy16", "train", 40, 16, 3)
  write_toy_records(tmp_path / "val", "toy16", "test", 20, 16, 3)
  for studentnet in ("inception", "resnet101"):
    log_dir = tmp_path / studentnet
    training.run(
        training.TrainConfig.from_flat(train_log_dir=str(log_dir),
                                       data_dir=str(tmp_path / "train"),
                                       dataset_name="toy16",
                                       studentnet=studentnet,
                                       batch_size=8,
                                       max_number_of_steps=2,
                                       num_residual_units=1,
                                       resnet_widths=(16, 32, 64)))
    model = build_student(
        training.TrainConfig.from_flat(train_log_dir="",
                                       data_dir="",
                                       dataset_name="toy16",
                                       studentnet=studentnet,
                                       num_residual_units=1,
                                       resnet_widths=(16, 32, 64)))
    assert model.input_shape == (None, 16, 16, 3)
    assert model.output_shape == (None, 3)
    results = evaluate.run(
        EvalConfig.from_flat(checkpoint_dir=str(log_dir),
                             data_dir=str(tmp_path / "val"),
                             dataset_name="toy16",
                             eval_once=True,
                             batch_size=10))
    assert list(results) == [2]
  # Its labels are checked against its own class count.
  write_toy_records(tmp_path / "bad", "toy16", "train", 30, 16, 5)
  with pytest.raises(ValueError, match=r"label \d is outside \[0, 3\)"):
    training.run(
        training.TrainConfig.from_flat(train_log_dir=str(tmp_path / "bad_run"),
                                       data_dir=str(tmp_path / "bad"),
                                       dataset_name="toy16",
                                       studentnet="inception",
                                       batch_size=8,
                                       max_number_of_steps=2))
