"""Noise diagnostics: what the curriculum does to correctly labelled and to
mislabelled examples, in the scripts' step, the trainer's summaries and
`MentorNetModel`, against NumPy."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from mentornet import curriculum
from mentornet.data import inputs
from mentornet.data import shards
from mentornet.models import mentor
from mentornet.models import students
from mentornet import training
from mentornet.training import keras_model
from mentor_reference import numpy_mentornet_weights

PD = "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd"
BATCH, NUM_CLASSES = 16, 3
FLAGS = dict(loss_p_percentile=0.75,
             loss_moving_average_decay=0.6,
             burn_in_epoch=0,
             example_dropout_rates="0.0,100")


def make_batch(seed=0):
  """Images, noisy labels and clean labels: 10 of 16 labels are right."""
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(BATCH, 4, 4, 3)).astype(np.float32)
  clean = rng.integers(0, NUM_CLASSES, BATCH)
  y = clean.copy()
  y[10:] = (clean[10:] + 1) % NUM_CLASSES
  return x, y, clean


def make_student(seed=0):
  keras.utils.set_random_seed(seed)
  return keras.Sequential([
      keras.Input((4, 4, 3)),
      keras.layers.Flatten(),
      keras.layers.Dense(NUM_CLASSES)
  ])


def numpy_reference(repo, student, x, y, clean):
  """The three diagnostics of the first step, from the original's formulas:
  percentile (TF 1.8 nearest), moving average from 0, MentorNet weights."""
  logits = student(x).numpy().astype(np.float64)
  logits -= logits.max(axis=1, keepdims=True)
  log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
  loss = -log_p[np.arange(BATCH), y]
  q100 = np.float64(np.float32(0.75) * np.float32(100))
  index = int(np.round((BATCH - 1) * (1 - q100 / 100)))
  moving_average = (1 - 0.6) * np.sort(loss)[::-1][index]
  net = mentor.load_mentornet(str(repo / PD))
  values = {
      mentor.TF1_VARIABLE_NAMES[a]: v.numpy()
      for a, v in net.variable_map().items()
  }
  v = numpy_mentornet_weights(
      values,
      np.stack([loss, loss - moving_average,
                np.zeros(BATCH),
                np.zeros(BATCH)], 1))
  right = y == clean
  return {
      "weight_share_clean": v[right].sum() / v.sum(),
      "mean_weight_clean": v[right].mean(),
      "mean_weight_noisy": v[~right].mean()
  }


def two_cpus():
  devices = [d.name for d in tf.config.list_logical_devices("CPU")[:2]]
  return tf.distribute.MirroredStrategy(devices)


@pytest.mark.parametrize("replicas", [1, 2])
def test_scripts_step_reports_the_diagnostics(repo, replicas):
  x, y, clean = make_batch()
  want = numpy_reference(repo, make_student(), x, y, clean)
  assert want["mean_weight_clean"] != pytest.approx(want["mean_weight_noisy"])
  strategy = two_cpus() if replicas == 2 else tf.distribute.get_strategy()
  config = training.TrainConfig.from_flat(train_log_dir="unused",
                                          data_dir="unused",
                                          studentnet="inception",
                                          use_mentornet=True,
                                          max_number_of_steps=100,
                                          trained_mentornet_dir=str(repo / PD),
                                          **FLAGS)
  with strategy.scope():
    student = make_student()
    cur = training.make_curriculum(config)
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.build(student.trainable_variables)
  step = training.build_step(config, strategy, student, optimizer, cur, BATCH)
  batch = {
      "image": x,
      "label": y.astype(np.int64),
      "clean_label": clean.astype(np.int64)
  }
  data = tf.data.Dataset.from_tensors(batch)
  metrics = step(next(iter(strategy.experimental_distribute_dataset(data))))
  assert float(metrics["noise_n_clean"]) == 10
  assert float(metrics["noise_n_noisy"]) == 6
  got = curriculum.noise_diagnostics(metrics)
  assert got == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("replicas", [1, 2])
def test_mentornet_model_reports_the_diagnostics(repo, replicas):
  x, y, clean = make_batch()
  want = numpy_reference(repo, make_student(), x, y, clean)
  strategy = two_cpus() if replicas == 2 else tf.distribute.get_strategy()
  with strategy.scope():
    model = keras_model.MentorNetModel(make_student(),
                                       str(repo / PD),
                                       max_number_of_steps=100,
                                       **FLAGS)
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True, reduction=None),
                  metrics=["accuracy"])
  data = tf.data.Dataset.from_tensors((x, {"label": y, "clean_label": clean}))
  logs = model.fit(data, epochs=1, verbose=0).history
  for name, value in want.items():
    assert logs[name][0] == pytest.approx(value, rel=1e-5), name
  # Without clean labels the metrics are not reported; evaluate never does.
  plain = model.fit(tf.data.Dataset.from_tensors((x, y)), epochs=1,
                    verbose=0).history
  assert not set(plain) & set(want)
  assert set(model.evaluate(data, return_dict=True,
                            verbose=0)) == {"loss", "accuracy"}


def test_supervised_dataset_gives_clean_labels(repo):
  ds = inputs.supervised_dataset(str(repo / "data/demo/cifar10/0.4"),
                                 "cifar10",
                                 "train",
                                 50,
                                 clean_labels=True)
  images, labels = next(iter(ds))
  assert images.shape == (50, 32, 32, 3)
  assert set(labels) == {"label", "clean_label"}
  assert np.any(labels["label"].numpy() != labels["clean_label"].numpy())


def test_baseline_summaries_give_the_share_of_correct_labels(
    repo, tmp_path, scalars):
  """Every weight is 1, so the share is the trained batches' share of
  correct labels: exactly that of the examples the stream gave, about 0.64
  on the demo data (40% uniform noise changes 36% of the labels)."""
  data_dir = str(repo / "data/demo/cifar10/0.4")
  config = training.TrainConfig.from_flat(train_log_dir=str(tmp_path / "run"),
                                          data_dir=data_dir,
                                          studentnet="inception",
                                          batch_size=64,
                                          max_number_of_steps=20,
                                          save_summaries_secs=0,
                                          log_every_n_steps=10)
  training.run(config)
  tags = scalars(tmp_path / "run")
  share = dict(tags["noise/weight_share_clean"])
  assert sorted(share) == list(range(1, 21))
  examples = inputs.load_examples(
      shards.record_files(data_dir, "cifar10", "train"), "cifar10")
  batches = inputs.train_dataset(data_dir,
                                 "cifar10",
                                 students.get("inception").pad,
                                 64,
                                 examples=examples).take(20)
  for step, batch in enumerate(batches, 1):
    right = np.mean(batch["label"].numpy() == batch["clean_label"].numpy())
    assert share[step] == pytest.approx(right, abs=1e-6)
    assert dict(tags["noise/mean_weight_clean"])[step] == 1.0
    assert dict(tags["noise/mean_weight_noisy"])[step] == 1.0
  assert np.mean(list(share.values())) == pytest.approx(0.64, abs=0.03)
  with open(repo / "data/demo/cifar10/0.4/noise_report.json") as f:
    report = json.load(f)
  assert report["realized_noise_fraction"] == pytest.approx(0.36, abs=0.01)
