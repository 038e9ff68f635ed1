"""CIFAR records written and parsed, in the keys of `schema.py`.

Records are `tf.train.Example`s holding a PNG image, the NOISY label under
the dataset's label key (and `image/class/label`), the clean label and an id.
The label key is handed in (`datasets.Dataset.label_key`), so this module
knows no dataset.
"""

import os

import tensorflow as tf

from mentornet.data import schema


def make_example(png, label, clean_label, example_id, label_key=schema.LABEL):
  """Builds one serialized `tf.train.Example`.

  Args:
    png: PNG-encoded image bytes.
    label: the (noisy) label.
    clean_label: the true label.
    example_id: a stable integer id.
    label_key: the dataset's label key; the label is written under it and
      under `image/class/label` (CIFAR-100's `fine_label` and `label`).

  Returns:
    Serialized bytes.
  """

  def ints(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))

  def raw(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

  feature = {
      schema.ENCODED: raw(png),
      schema.FORMAT: raw(b"png"),
      schema.LABEL: ints(label),
      schema.CLEAN_LABEL: ints(clean_label),
      schema.ID: ints(example_id)
  }
  feature[label_key] = ints(label)
  return tf.train.Example(
      features=tf.train.Features(feature=feature)).SerializeToString(
          deterministic=True)  # map fields otherwise serialise in any order


def shard_paths(directory, dataset_name, split_name, num_shards):
  """`<dir>/<dataset>_<split>-0000i-of-0000n`, the original file names."""
  return [
      os.path.join(
          directory, f"{dataset_name}_{split_name}-"
          f"{i:05d}-of-{num_shards:05d}") for i in range(num_shards)
  ]


def write_records(serialized,
                  directory,
                  dataset_name,
                  split_name,
                  examples_per_shard=10000):
  """Writes serialized examples, in order, into contiguous, evenly filled shards.

  Returns:
    The list of files written.
  """
  num_shards = max(1, -(-len(serialized) // examples_per_shard))
  per_shard = -(-len(serialized) // num_shards)
  paths = shard_paths(directory, dataset_name, split_name, num_shards)
  for shard, path in enumerate(paths):
    with tf.io.TFRecordWriter(path) as writer:
      for record in serialized[shard * per_shard:(shard + 1) * per_shard]:
        writer.write(record)
  return paths


def parse_example(serialized, label_key=schema.LABEL):
  """Parses one record into {png, label, clean_label, id} tensors.

  Records in the original format lack clean labels and ids: those read as
  `schema.MISSING` (-1).
  """
  missing = schema.MISSING
  features = {
      schema.ENCODED:
          tf.io.FixedLenFeature([], tf.string),
      label_key:
          tf.io.FixedLenFeature([], tf.int64),
      schema.CLEAN_LABEL:
          tf.io.FixedLenFeature([], tf.int64, default_value=missing),
      schema.ID:
          tf.io.FixedLenFeature([], tf.int64, default_value=missing),
  }
  parsed = tf.io.parse_single_example(serialized, features)
  return {
      "png": parsed[schema.ENCODED],
      "label": parsed[label_key],
      "clean_label": parsed[schema.CLEAN_LABEL],
      "id": parsed[schema.ID]
  }
