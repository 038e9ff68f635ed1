"""Noisy CIFAR in the original directory layout, made from tensorflow-datasets.

The original data were only downloadable from the authors' bucket and the code
that made them was never released. `prepare_noisy_cifar` reads CIFAR through
TFDS, corrupts the training labels with a seeded generator and writes

  <output_dir>/<dataset>/<noise_fraction>/<dataset>_train-*   noisy labels
  <output_dir>/<dataset>/val/<dataset>_test-*                 clean test split
  <output_dir>/<dataset>/<noise_fraction>/noise_report.json
"""

import glob
import json
import os
import re
import shutil
import socket
import tempfile

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from mentornet import errors
from mentornet.config import settings
from mentornet.data import datasets
from mentornet.data import noise
from mentornet.data import records

# Where TFDS downloads CIFAR from; probed so an offline run fails at once
# instead of retrying for minutes.
DOWNLOAD_HOST = "www.cs.toronto.edu"


def noise_dir_name(fraction):
  """`0.2` -> `0.2`, `0.0` -> `0`: the directory name of a noise level."""
  return f"{fraction:g}"


def validate(config):
  """Raises ValueError with one line for a bad flag; touches nothing."""
  if not datasets.get(config.dataset_name).tfds_name:
    raise errors.BadInput(
        f"--dataset_name={config.dataset_name} has no "
        "tensorflow-datasets source to make noisy records from")
  settings.check_ranges(config)  # --noise_fraction, --max_*_examples
  if config.noise_type not in noise.NOISE_TYPES:
    raise errors.BadInput(
        f"--noise_type={config.noise_type} is unknown; choose one"
        f" of {', '.join(noise.NOISE_TYPES)}")
  for path in (config.output_dir,
               os.path.join(config.output_dir, config.dataset_name)):
    if os.path.exists(path) and not os.path.isdir(path):
      raise errors.BadInput(
          f"--output_dir: {path} exists and is not a directory")
  train_dir = os.path.join(config.output_dir, config.dataset_name,
                           noise_dir_name(config.noise_fraction))
  if os.path.isdir(train_dir) and os.listdir(
      train_dir) and not config.overwrite:
    raise errors.BadInput(f"output directory {train_dir} is not empty; pass "
                          "--overwrite to replace it")


def _reachable(host, timeout=5.0):
  try:
    socket.create_connection((host, 443), timeout=timeout).close()
    return True
  except OSError:
    return False


def tfds_builder(dataset_name, data_dir):
  """A prepared TFDS builder; downloads only when CIFAR's host is reachable."""
  builder = tfds.builder(dataset_name, data_dir=data_dir)
  if builder.is_prepared():
    return builder
  where = data_dir or tfds.core.constants.DATA_DIR
  if not _reachable(DOWNLOAD_HOST):
    raise errors.BadInput(
        f"{dataset_name} is not prepared under {where} and it cannot be "
        f"downloaded ({DOWNLOAD_HOST} unreachable); pass --tfds_data_dir "
        "pointing at a prepared tensorflow-datasets directory")
  builder.download_and_prepare()
  return builder


def read_split(builder, split, max_examples=0):
  """Images, labels and (CIFAR-100) coarse labels of a split, in TFDS order."""
  ds = builder.as_dataset(split=split, shuffle_files=False)
  if max_examples:
    ds = ds.take(max_examples)
  images, labels, coarse = [], [], []
  for batch in ds.batch(10000).as_numpy_iterator():
    images.append(batch["image"])
    labels.append(batch["label"])
    coarse.append(batch.get("coarse_label", batch["label"]))
  return (np.concatenate(images), np.concatenate(labels).astype(np.int64),
          np.concatenate(coarse).astype(np.int64))


def encode_pngs(images):
  """PNG-encodes uint8 images `[N, H, W, 3]` in parallel, keeping order."""
  ds = tf.data.Dataset.from_tensor_slices(images).map(
      tf.io.encode_png, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return list(ds.batch(5000).as_numpy_iterator())


def _serialize(images, noisy, clean, dataset_name):
  pngs = [p for batch in encode_pngs(images) for p in batch]
  label_key = datasets.get(dataset_name).label_key
  return [
      records.make_example(png, n, c, i, label_key)
      for i, (png, n, c) in enumerate(zip(pngs, noisy, clean))
  ]


def _target_map(config, num_classes, labels, coarse):
  if config.noise_type != "asymmetric":
    return None
  if config.dataset_name == "cifar10":
    return noise.cifar10_asymmetric_map()
  fine_to_coarse = np.zeros(num_classes, np.int64)
  fine_to_coarse[labels] = coarse
  return noise.superclass_next_map(fine_to_coarse)


def _replace_dir(tmp_dir, final_dir):
  """Moves a finished directory into place, replacing any old one."""
  os.chmod(tmp_dir, 0o755)  # mkdtemp makes it private.
  if os.path.isdir(final_dir):
    shutil.rmtree(final_dir)
  os.makedirs(os.path.dirname(final_dir), exist_ok=True)
  os.replace(tmp_dir, final_dir)


def prepare_noisy_cifar(config):
  """Writes the noisy training split, the clean val split and the report.

  Every directory is written under a temporary name and moved into place only
  when complete, so a failure leaves earlier data untouched. An existing,
  non-empty `val` directory is kept (it holds the clean test split, the same
  for every noise level) unless `overwrite` is set.

  Args:
    config: a `config.PrepareConfig`.

  Returns:
    The noise report (also written as `noise_report.json`).
  """
  validate(config)
  builder = tfds_builder(
      datasets.get(config.dataset_name).tfds_name, config.tfds_data_dir)
  num_classes = builder.info.features["label"].num_classes
  base = os.path.join(config.output_dir, config.dataset_name)
  train_dir = os.path.join(base, noise_dir_name(config.noise_fraction))
  val_dir = os.path.join(base, "val")
  os.makedirs(base, exist_ok=True)

  images, clean, coarse = read_split(builder, "train",
                                     config.max_train_examples)
  noisy = noise.noisy_labels(clean, num_classes, config.noise_type,
                             config.noise_fraction, config.seed,
                             _target_map(config, num_classes, clean, coarse))
  report = _noise_report(config, clean, noisy, num_classes)
  _remove_stale_temporaries(base)
  keep_val = (os.path.isdir(val_dir) and bool(os.listdir(val_dir)) and
              not config.overwrite)
  temporaries = []
  try:
    train_tmp = tempfile.mkdtemp(prefix=f".tmp-{os.getpid()}-", dir=base)
    temporaries.append(train_tmp)
    files = records.write_records(
        _serialize(images, noisy, clean, config.dataset_name), train_tmp,
        config.dataset_name, "train")
    with open(os.path.join(train_tmp, "noise_report.json"), "w") as f:
      json.dump(report, f, indent=1)
    val_tmp, test_count = (None, 0) if keep_val else _write_test_split(
        builder, config, base, temporaries)
    # Both splits are complete: move them into place, the training split
    # (which a rerun checks for) last.
    if val_tmp:
      _replace_dir(val_tmp, val_dir)
      logging.info("wrote %d test records to %s", test_count, val_dir)
    else:
      logging.info("kept the existing clean test split in %s", val_dir)
    _replace_dir(train_tmp, train_dir)
    logging.info(
        "wrote %d training records (%.4f of labels changed) in %d "
        "files to %s", len(clean), report["realized_noise_fraction"],
        len(files), train_dir)
  finally:
    for tmp in temporaries:
      if os.path.isdir(tmp):
        shutil.rmtree(tmp)
  return report


def _noise_report(config, clean, noisy, num_classes):
  """What `noise_report.json` says of the labels made."""
  return {
      "dataset_name":
          config.dataset_name,
      "noise_fraction":
          config.noise_fraction,
      "noise_type":
          config.noise_type,
      "seed":
          config.seed,
      "num_examples":
          int(len(clean)),
      "realized_noise_fraction":
          float(np.mean(noisy != clean)),
      "confusion_counts":
          noise.confusion_counts(clean, noisy, num_classes).tolist(),
  }


def _write_test_split(builder, config, base, temporaries):
  """The clean test split written into a new temporary folder: (its path,
  also added to `temporaries`, and the number of records)."""
  test_images, test_labels, _ = read_split(builder, "test",
                                           config.max_test_examples)
  val_tmp = tempfile.mkdtemp(prefix=f".tmp-{os.getpid()}-", dir=base)
  temporaries.append(val_tmp)
  records.write_records(
      _serialize(test_images, test_labels, test_labels, config.dataset_name),
      val_tmp, config.dataset_name, "test")
  return val_tmp, len(test_labels)


def _remove_stale_temporaries(base):
  """Removes `.tmp-<pid>-*` folders of generator runs that were killed."""
  for path in glob.glob(os.path.join(base, ".tmp-*")):
    match = re.match(r"\.tmp-(\d+)-", os.path.basename(path))
    if match and _alive(int(match.group(1))):
      continue
    shutil.rmtree(path, ignore_errors=True)


def _alive(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True
