"""Noisy CIFAR generator, record format and input pipelines."""

import glob
import hashlib
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from mentornet.config import PrepareConfig
from mentornet.data import cifar_data
from mentornet.data import datasets
from mentornet.data import inputs
from mentornet.data import records
from mentornet.data import shards
from mentornet.data import schema
from mentornet.models import students

N_TRAIN, N_TEST = 300, 100


def prepare(tfds_dir, out, **kwargs):
  config = PrepareConfig(tfds_data_dir=str(tfds_dir),
                         output_dir=str(out),
                         max_train_examples=N_TRAIN,
                         max_test_examples=N_TEST,
                         **kwargs)
  return cifar_data.prepare_noisy_cifar(config)


def digests(directory):
  return {
      os.path.basename(p): hashlib.sha256(open(p, "rb").read()).hexdigest()
      for p in sorted(glob.glob(os.path.join(directory, "*")))
  }


def plain_parse(path, label_key):
  """Reads records with tf.io.parse_single_example and the documented keys."""
  spec = {
      schema.ENCODED: tf.io.FixedLenFeature([], tf.string),
      schema.FORMAT: tf.io.FixedLenFeature([], tf.string),
      label_key: tf.io.FixedLenFeature([], tf.int64),
      schema.CLEAN_LABEL: tf.io.FixedLenFeature([], tf.int64),
      schema.ID: tf.io.FixedLenFeature([], tf.int64)
  }
  rows = [
      tf.io.parse_single_example(r, spec)
      for r in tf.data.TFRecordDataset(sorted(glob.glob(path)))
  ]
  images = np.stack([tf.io.decode_png(r[schema.ENCODED]).numpy() for r in rows])
  return images, {
      k: np.array([r[k].numpy()
                   for r in rows]) for k in spec if k != schema.ENCODED
  }


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_records_equal_tfds_and_carry_noise(tfds_dir, tmp_path, name):
  report = prepare(tfds_dir, tmp_path, dataset_name=name, noise_fraction=0.4)
  ref = tfds.as_numpy(
      tfds.load(name,
                split=f"train[:{N_TRAIN}]",
                data_dir=str(tfds_dir),
                batch_size=-1,
                download=False,
                shuffle_files=False))
  label_key = datasets.get(name).label_key
  images, cols = plain_parse(str(tmp_path / name / "0.4" / f"{name}_train-*"),
                             label_key)
  np.testing.assert_array_equal(images, ref["image"])
  np.testing.assert_array_equal(cols[schema.CLEAN_LABEL], ref["label"])
  np.testing.assert_array_equal(cols[schema.ID], np.arange(N_TRAIN))
  assert set(cols[schema.FORMAT]) == {b"png"}
  if name == "cifar100":  # the plain label key holds the noisy label too
    _, c10 = plain_parse(str(tmp_path / name / "0.4" / f"{name}_train-*"),
                         schema.LABEL)
    np.testing.assert_array_equal(c10[schema.LABEL], cols[label_key])
  changed = np.mean(cols[label_key] != cols[schema.CLEAN_LABEL])
  assert report["realized_noise_fraction"] == pytest.approx(changed)
  assert 0.25 < changed < 0.5
  on_disk = json.loads(
      (tmp_path / name / "0.4" / "noise_report.json").read_text())
  assert on_disk["seed"] == 0 and on_disk["noise_type"] == "uniform"
  counts = np.array(on_disk["confusion_counts"])
  assert counts.sum() == N_TRAIN
  assert np.trace(counts) == round((1 - changed) * N_TRAIN)
  test_images, test_cols = plain_parse(
      str(tmp_path / name / "val" / f"{name}_test-*"), label_key)
  assert len(test_images) == N_TEST
  np.testing.assert_array_equal(test_cols[label_key],
                                test_cols[schema.CLEAN_LABEL])


@pytest.mark.slow
def test_same_seed_is_byte_identical_other_seed_differs(tfds_dir, tmp_path):
  prepare(tfds_dir, tmp_path / "a", noise_fraction=0.4, seed=5)
  prepare(tfds_dir, tmp_path / "b", noise_fraction=0.4, seed=5)
  prepare(tfds_dir, tmp_path / "c", noise_fraction=0.4, seed=6)
  a, b, c = (digests(tmp_path / x / "cifar10" / "0.4") for x in "abc")
  assert a == b
  assert a["cifar10_train-00000-of-00001"] != c["cifar10_train-00000-of-00001"]


@pytest.mark.slow
def test_existing_output_needs_overwrite_and_is_kept(tfds_dir, tmp_path):
  prepare(tfds_dir, tmp_path, noise_fraction=0.2, seed=1)
  before = digests(tmp_path / "cifar10" / "0.2")
  with pytest.raises(ValueError, match="is not empty; pass --overwrite"):
    prepare(tfds_dir, tmp_path, noise_fraction=0.2, seed=2)
  assert digests(tmp_path / "cifar10" / "0.2") == before
  prepare(tfds_dir, tmp_path, noise_fraction=0.2, seed=2, overwrite=True)
  assert digests(tmp_path / "cifar10" / "0.2") != before
  assert sorted(os.listdir(tmp_path / "cifar10")) == ["0.2", "val"]


@pytest.mark.parametrize("kwargs,message", [
    ({
        "dataset_name": "mnist"
    }, "--dataset_name=mnist is unknown"),
    ({
        "noise_fraction": 1.5
    }, "--noise_fraction=1.5 must lie in [0, 1]"),
    ({
        "noise_fraction": -0.1
    }, "--noise_fraction=-0.1 must lie in [0, 1]"),
    ({
        "noise_type": "gaussian"
    }, "--noise_type=gaussian is unknown"),
])
def test_bad_flags_write_nothing(tmp_path, kwargs, message):
  with pytest.raises(ValueError, match=re.escape(message)):
    prepare(tmp_path / "no_tfds", tmp_path / "out", **kwargs)
  assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_script_offline_without_tfds_data_is_one_line(tmp_path, repo,
                                                      monkeypatch):
  monkeypatch.setattr(cifar_data, "DOWNLOAD_HOST", "host.invalid")
  with pytest.raises(ValueError, match="is not prepared under .* cannot be"):
    prepare(tmp_path / "empty", tmp_path / "out")
  assert not (tmp_path / "out").exists()
  # The script turns errors into one line on stderr and a non-zero exit.
  proc = subprocess.run([
      sys.executable,
      str(repo / "code" / "prepare_noisy_cifar.py"), "--noise_fraction=2",
      f"--output_dir={tmp_path / 'out'}"
  ],
                        capture_output=True,
                        text=True,
                        check=False)
  assert proc.returncode != 0
  assert proc.stderr.strip().splitlines()[-1] == (
      "prepare_noisy_cifar.py: error: --noise_fraction=2.0 must lie in [0, 1]")
  assert not (tmp_path / "out").exists()


# Input pipelines.


def write_original_format(path, n, label_key=schema.LABEL):
  """Records as the original release had them: no clean label, no id."""
  with tf.io.TFRecordWriter(str(path)) as writer:
    for i in range(n):
      image = np.full([32, 32, 3], i, np.uint8)
      feature = {
          schema.ENCODED:
              tf.train.Feature(bytes_list=tf.train.BytesList(
                  value=[tf.io.encode_png(image).numpy()])),
          label_key:
              tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 10]))
      }
      writer.write(
          tf.train.Example(features=tf.train.Features(
              feature=feature)).SerializeToString())


def test_original_format_records_without_clean_label_or_id(tmp_path):
  write_original_format(tmp_path / "cifar10_train-00000-of-00001", 6)
  batch = next(
      iter(inputs.eval_dataset(str(tmp_path), "cifar10", 6,
                               split_name="train")))
  np.testing.assert_array_equal(batch["label"], np.arange(6) % 10)
  np.testing.assert_array_equal(batch["clean_label"], [-1] * 6)
  np.testing.assert_array_equal(batch["id"], np.arange(6))  # record positions


def test_train_pipeline_augments_and_is_seeded(tmp_path, tfds_dir):
  prepare(tfds_dir, tmp_path, noise_fraction=0.4)
  data_dir = str(tmp_path / "cifar10" / "0.4")
  for studentnet in students.names():
    first = [
        next(
            iter(
                inputs.train_dataset(data_dir,
                                     "cifar10",
                                     students.get(studentnet).pad,
                                     32,
                                     seed=3))) for _ in range(2)
    ]
    np.testing.assert_array_equal(first[0]["image"], first[1]["image"])
    np.testing.assert_array_equal(first[0]["id"], first[1]["id"])
    images = first[0]["image"].numpy()
    assert images.shape == (32, 32, 32, 3)
    # per-image standardisation: zero mean, unit variance per image
    np.testing.assert_allclose(images.mean(axis=(1, 2, 3)), 0, atol=1e-3)
    np.testing.assert_allclose(images.std(axis=(1, 2, 3)), 1, atol=1e-2)
  other = next(
      iter(
          inputs.train_dataset(data_dir,
                               "cifar10",
                               students.get("inception").pad,
                               32,
                               seed=4)))
  assert not np.array_equal(other["id"], first[0]["id"])


@pytest.mark.slow
@pytest.mark.parametrize("studentnet,pad", [("inception", 8), ("resnet101", 2)])
def test_augment_is_a_standardised_window_of_the_padded_image(studentnet, pad):
  rng = np.random.default_rng(0)
  image = rng.integers(0, 256, [32, 32, 3]).astype(np.uint8)
  padded = np.pad(image.astype(np.float32), [[pad, pad], [pad, pad], [0, 0]])
  found = set()
  for s in range(24):
    out = inputs.augment(image,
                         students.get(studentnet).pad,
                         tf.constant([0, s], tf.int64)).numpy()
    matches = []
    for dy in range(2 * pad + 1):
      for dx in range(2 * pad + 1):
        window = padded[dy:dy + 32, dx:dx + 32]
        for flip in (False, True):
          w = window[:, ::-1] if flip else window
          want = tf.image.per_image_standardization(w).numpy()
          if np.allclose(out, want, atol=1e-4):
            matches.append((dy, dx, flip))
    assert len(matches) == 1
    found.add(matches[0])
  assert len({m[:2] for m in found}) > 5 and {m[2] for m in found} == {0, 1}


def test_eval_pipeline_standardises_in_order(tmp_path, tfds_dir):
  prepare(tfds_dir, tmp_path, noise_fraction=0.4)
  val = str(tmp_path / "cifar10" / "val")
  batches = list(inputs.eval_dataset(val, "cifar10", 64))
  assert [len(b["id"]) for b in batches] == [64, 36]
  np.testing.assert_array_equal(np.concatenate([b["id"] for b in batches]),
                                np.arange(N_TEST))
  ref = tfds.as_numpy(
      tfds.load("cifar10",
                split=f"test[:{N_TEST}]",
                data_dir=str(tfds_dir),
                batch_size=-1,
                download=False,
                shuffle_files=False))
  want = tf.image.per_image_standardization(
      tf.cast(ref["image"][:64], tf.float32)).numpy()
  np.testing.assert_allclose(batches[0]["image"], want, atol=1e-5)
  assert shards.count_records(shards.record_files(val, "cifar10",
                                                  "test")) == N_TEST


def test_pipeline_errors_name_the_path(tmp_path):
  with pytest.raises(FileNotFoundError, match="does not exist"):
    shards.record_files(str(tmp_path / "missing"), "cifar10", "train")
  with pytest.raises(FileNotFoundError, match="is empty"):
    shards.record_files(str(tmp_path), "cifar10", "train")
  (tmp_path / "README").write_text("x")
  with pytest.raises(FileNotFoundError,
                     match="no files match .*cifar10_train-"):
    shards.record_files(str(tmp_path), "cifar10", "train")
  write_original_format(tmp_path / "cifar10_train-00000-of-00001", 20)
  data = (tmp_path / "cifar10_train-00000-of-00001").read_bytes()
  bad = tmp_path / "cifar10_train-00001-of-00001"
  bad.write_bytes(data[:100] + b"\x00" * 50 + data[150:])
  files = shards.record_files(str(tmp_path), "cifar10", "train")
  with pytest.raises(ValueError,
                     match="corrupt TFRecord file .*00001-of-00001"):
    shards.count_records(files)


def write_small_records(directory, n, seed=0):
  """n records with random 32x32 images, ids 1000 + i, labels i % 10."""
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, [n, 32, 32, 3]).astype(np.uint8)
  serialized = [
      records.make_example(
          tf.io.encode_png(images[i]).numpy(), i % 10, (i + i // 3) % 10,
          1000 + i) for i in range(n)
  ]
  os.makedirs(directory, exist_ok=True)
  records.write_records(serialized,
                        str(directory),
                        "cifar10",
                        "train",
                        examples_per_shard=400)
  return str(directory)


def stream(data_dir, examples, batches, start=0, seed=5, batch_size=128):
  ds = inputs.train_dataset(data_dir,
                            "cifar10",
                            students.get("inception").pad,
                            batch_size,
                            seed=seed,
                            examples=examples,
                            start=start)
  out = list(ds.take(batches).as_numpy_iterator())
  return {k: np.concatenate([b[k] for b in out]) for k in out[0]}


def test_every_pass_visits_each_example_once_and_resumes_exactly(tmp_path):
  data_dir = write_small_records(tmp_path / "d", 1000)
  files = shards.record_files(data_dir, "cifar10", "train")
  examples = inputs.load_examples(files, "cifar10")
  np.testing.assert_array_equal(examples["id"], 1000 + np.arange(1000))
  assert inputs.has_clean_labels(examples)
  full = stream(data_dir, examples, 24)  # 3,072 examples: three whole passes
  passes = [full["id"][p * 1000:(p + 1) * 1000] for p in range(3)]
  for p, ids in enumerate(passes):
    assert sorted(ids) == list(range(1000, 2000))
    order = inputs.pass_order(1000, 5, p).numpy()
    np.testing.assert_array_equal(ids, examples["id"][order])
  assert not np.array_equal(passes[0], passes[1])
  assert not np.array_equal(passes[1], passes[2])
  np.testing.assert_array_equal(full["label"], (full["id"] - 1000) % 10)
  # Resuming at step 7 (and at 9, inside the second pass) gives the very
  # examples and augmentations of the uninterrupted stream.
  for step in (7, 9):
    resumed = stream(data_dir, examples, 24 - step, start=step * 128)
    for key in ("id", "image", "label", "clean_label"):
      np.testing.assert_array_equal(resumed[key], full[key][step * 128:])
  other_seed = stream(data_dir, examples, 8, seed=6)
  assert not np.array_equal(other_seed["id"][:1000], passes[0])


def test_records_without_clean_labels_are_reported_as_such(tmp_path):
  write_original_format(tmp_path / "cifar10_train-00000-of-00001", 6)
  examples = inputs.load_examples(
      shards.record_files(str(tmp_path), "cifar10", "train"), "cifar10")
  assert not inputs.has_clean_labels(examples)
