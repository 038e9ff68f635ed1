"""A data directory's record files: found, checked, counted, fingerprinted.

Every check names the file (and the record) that is wrong, in one line:
a missing or empty directory, a pattern that matched nothing (with the
directories below that do hold such records), an empty shard, a directory
named like a shard, a corrupt file, a label outside the classes, an image of
the wrong size.
"""

import glob
import hashlib
import os

import tensorflow as tf

from mentornet import errors
from mentornet.data import datasets
from mentornet.data import records
from mentornet.data import schema


def _hint(data_dir, dataset_name, split_name):
  """Names the directories below `data_dir` that hold this split's records."""
  found = sorted({
      os.path.relpath(os.path.dirname(p),
                      data_dir) for p in glob.glob(os.path.join(
                          data_dir, "**", f"{dataset_name}_{split_name}-*"),
                                                   recursive=True)
  })
  if not found:
    return ""
  shown = ", ".join(os.path.join(data_dir, d) + "/" for d in found[:6])
  return f"; directories below it that do hold them: {shown}"


def _other_dataset(data_dir, dataset_name, split_name):
  """'; it holds cifar10 records: give --dataset_name=cifar10' when the
  directory holds this split of another dataset."""
  others = sorted({
      name[:-len(f"_{split_name}")]
      for name in (f.split("-", 1)[0] for f in os.listdir(data_dir))
      if name.endswith(f"_{split_name}") and
      name != f"{dataset_name}_{split_name}"
  })
  if not others:
    return ""
  flag = " or ".join(f"--dataset_name={o}" for o in others)
  return f"; it holds {', '.join(others)} records: give {flag}"


def record_files(data_dir, dataset_name, split_name):
  """The files `<data_dir>/<dataset>_<split>-*`, sorted.

  Raises:
    FileNotFoundError: one line naming the missing directory, the empty
      directory or the pattern that matched nothing (with the directories
      below that do hold such records, a common mistake).
    ValueError: a matching entry that is a directory or an empty file.
  """
  if not data_dir or not os.path.isdir(data_dir):
    raise errors.MissingInput(
        f"data directory '{data_dir}' does not exist (commands/prepare_data.sh"
        " makes the experiment grid's; data/demo holds the demo data)")
  if not os.listdir(data_dir):
    raise errors.MissingInput(f"data directory {data_dir} is empty")
  pattern = os.path.join(data_dir, f"{dataset_name}_{split_name}-*")
  files = sorted(glob.glob(pattern))
  if not files:
    raise errors.MissingInput(
        f"no files match {pattern}" +
        _other_dataset(data_dir, dataset_name, split_name) +
        _hint(data_dir, dataset_name, split_name))
  for path in files:
    if os.path.isdir(path):
      raise errors.BadInput(f"{path} is a directory, not a TFRecord file")
    if os.path.getsize(path) == 0:
      raise errors.BadInput(f"TFRecord file {path} is empty (0 bytes)")
  return files


FINGERPRINT_BYTES = 65536  # hashed from each end of every record file


def data_fingerprint(files, num_examples):
  """What identifies a run's training data, cheaply.

  Returns:
    {"records": the record count, "files": ["name:size", ...], "content":
    a SHA-256 prefix of every file's name, size and first and last 64 KiB}.
    The directory's path is not part of it (data may be moved).
  """
  digest = hashlib.sha256()
  names = []
  for path in files:
    size = os.path.getsize(path)
    names.append(f"{os.path.basename(path)}:{size}")
    with open(path, "rb") as f:
      head = f.read(FINGERPRINT_BYTES)
      f.seek(max(0, size - FINGERPRINT_BYTES))
      tail = f.read(FINGERPRINT_BYTES)
    digest.update(f"{names[-1]}\n".encode() + head + tail)
  return {
      "records": int(num_examples),
      "files": names,
      "content": digest.hexdigest()[:16]
  }


def fingerprint_change(saved, ours):
  """How the data `ours` differ from `saved` (fingerprints), or ""."""
  if saved == ours:
    return ""
  if saved.get("records") != ours["records"]:
    return f"{saved.get('records')} records there, {ours['records']} here"
  if saved.get("files") != ours["files"]:
    return (f"files {', '.join(saved.get('files') or [])} there, "
            f"{', '.join(ours['files'])} here")
  return ("the same files and record count but other contents (labels or "
          "images differ)")


def _first_bad_record(path, dataset_name):
  """(index, reason) of the first record of `path` that does not read, in
  eager mode one record at a time (only used once a batch has failed)."""
  for index, serialized in enumerate(tf.data.TFRecordDataset(path)):
    try:
      reason = _check_record(serialized, dataset_name)
    except (tf.errors.InvalidArgumentError, ValueError) as e:
      reason = str(getattr(e, "message", e)).splitlines()[0]
    if reason:
      return index, reason
  return None, "unreadable"


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_RGB = b"\x02"  # IHDR colour type 2: RGB, the only kind records hold


def _png_kind(png):
  """The reason an encoded image is not an RGB PNG, or "" (eager)."""
  data = bytes(png.numpy())
  if not data.startswith(PNG_SIGNATURE):
    return (f"image is not a PNG (it starts {data[:4]!r}); records hold "
            "32x32 RGB PNGs")
  if data[25:26] != PNG_RGB:
    kinds = {
        b"\x00": "grayscale",
        b"\x03": "palette",
        b"\x04": "grayscale with alpha",
        b"\x06": "RGBA"
    }
    return (f"image is a {kinds.get(data[25:26], 'non-RGB')} PNG; records "
            "hold 32x32 RGB PNGs")
  return ""


def _check_record(serialized, dataset_name):
  """The reason a record is bad, or "" (eager)."""
  info = datasets.get(dataset_name)
  ex = records.parse_example(serialized, datasets.get(dataset_name).label_key)
  label = int(ex["label"])
  if not 0 <= label < info.num_classes:
    return f"label {label} is outside [0, {info.num_classes})"
  clean = int(ex["clean_label"])  # -1: a record without one (the original's)
  if clean != schema.MISSING and not 0 <= clean < info.num_classes:
    return (f"clean_label {clean} is outside [0, {info.num_classes}) (and "
            "is not -1, none)")
  kind = _png_kind(ex["png"])
  if kind:
    return kind
  shape = tf.io.decode_png(ex["png"], channels=3).shape
  size = info.image_size
  if shape != (size, size, 3):
    return f"image of shape {list(shape)}, expected [{size}, {size}, 3]"
  return ""


def count_records(files, dataset_name=None):
  """Counts the records of `files`, checking each file's framing and CRCs and,
  given `dataset_name`, every record's label and image.

  Raises:
    ValueError: one line naming the corrupt file, or the file and record
      index of a bad label or image.
  """
  total = 0
  for path in files:
    try:
      if dataset_name is None:
        total += int(
            tf.data.TFRecordDataset(path).reduce(tf.constant(0, tf.int64),
                                                 lambda n, _: n + 1))
      else:
        total += _count_checked(path, dataset_name)
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
      if isinstance(e, tf.errors.InvalidArgumentError) and dataset_name:
        index, reason = _first_bad_record(path, dataset_name)
        if index is not None:
          raise errors.BadInput(f"{path}, record {index}: {reason}") from None
      raise errors.BadInput(f"corrupt TFRecord file {path}: "
                            f"{e.message.splitlines()[0]}") from None
  return total


def _count_checked(path, dataset_name):
  """Record count of one file; raises InvalidArgumentError on a bad record."""
  info = datasets.get(dataset_name)

  def check(serialized):
    ex = records.parse_example(serialized, datasets.get(dataset_name).label_key)
    image = tf.io.decode_png(ex["png"], channels=3)
    size = info.image_size
    clean = ex["clean_label"]
    labels_ok = tf.reduce_all([
        ex["label"] >= 0, ex["label"] < info.num_classes,
        tf.logical_or(tf.equal(clean, schema.MISSING),
                      tf.logical_and(clean >= 0, clean < info.num_classes))
    ])
    rgb_png = tf.logical_and(
        tf.equal(tf.strings.substr(ex["png"], 0, 8), PNG_SIGNATURE),
        tf.equal(tf.strings.substr(ex["png"], 25, 1), PNG_RGB))
    ok = tf.reduce_all([
        labels_ok, rgb_png,
        tf.reduce_all(tf.equal(tf.shape(image), [size, size, 3]))
    ])
    return tf.cast(ok, tf.int64)

  ds = tf.data.TFRecordDataset(path).map(check,
                                         num_parallel_calls=tf.data.AUTOTUNE)
  good, total = ds.reduce((tf.constant(0, tf.int64), tf.constant(0, tf.int64)),
                          lambda acc, ok: (acc[0] + ok, acc[1] + 1))
  if int(good) != int(total):
    index, reason = _first_bad_record(path, dataset_name)
    raise errors.BadInput(f"{path}, record {index}: {reason}")
  return int(total)
