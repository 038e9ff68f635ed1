"""The TFRecord schema of the CIFAR data directories, written and parsed.

Records are `tf.train.Example`s with the original keys, `image/encoded` (PNG),
`image/format` and `image/class/label` (CIFAR-100 also
`image/class/fine_label`), both holding the NOISY label, plus two keys the
original lacked: `image/class/clean_label` and `image/id`.
"""

import os

import tensorflow as tf

ENCODED = "image/encoded"
FORMAT = "image/format"
LABEL = "image/class/label"
FINE_LABEL = "image/class/fine_label"
CLEAN_LABEL = "image/class/clean_label"
ID = "image/id"
MISSING = -1  # clean label / id of records in the original format.


def label_key(dataset_name):
  """The key holding the (noisy) training label for `dataset_name`."""
  from mentornet import datasets  # pylint: disable=g-import-not-at-top
  return datasets.get(dataset_name).label_key


def make_example(png, label, clean_label, example_id, dataset_name):
  """Builds one serialized `tf.train.Example`.

  Args:
    png: PNG-encoded image bytes.
    label: the (noisy) label.
    clean_label: the true label.
    example_id: a stable integer id.
    dataset_name: a registered dataset; the label is also written under its
      own label key (CIFAR-100's `fine_label`).

  Returns:
    Serialized bytes.
  """
  def ints(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
  def raw(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
  feature = {ENCODED: raw(png), FORMAT: raw(b"png"), LABEL: ints(label),
             CLEAN_LABEL: ints(clean_label), ID: ints(example_id)}
  feature[label_key(dataset_name)] = ints(label)
  return tf.train.Example(
      features=tf.train.Features(feature=feature)).SerializeToString(
      deterministic=True)  # map fields otherwise serialise in any order


def shard_paths(directory, dataset_name, split_name, num_shards):
  """`<dir>/<dataset>_<split>-0000i-of-0000n`, the original file names."""
  return [os.path.join(directory, f"{dataset_name}_{split_name}-"
                       f"{i:05d}-of-{num_shards:05d}")
          for i in range(num_shards)]


def write_records(serialized, directory, dataset_name, split_name,
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


def parse_example(serialized, dataset_name):
  """Parses one record into {png, label, clean_label, id} tensors.

  Records in the original format lack clean labels and ids: those read as
  `MISSING` (-1).
  """
  features = {
      ENCODED: tf.io.FixedLenFeature([], tf.string),
      label_key(dataset_name): tf.io.FixedLenFeature([], tf.int64),
      CLEAN_LABEL: tf.io.FixedLenFeature([], tf.int64, default_value=MISSING),
      ID: tf.io.FixedLenFeature([], tf.int64, default_value=MISSING),
  }
  parsed = tf.io.parse_single_example(serialized, features)
  return {"png": parsed[ENCODED], "label": parsed[label_key(dataset_name)],
          "clean_label": parsed[CLEAN_LABEL], "id": parsed[ID]}
