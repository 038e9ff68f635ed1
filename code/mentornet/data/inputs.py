"""tf.data pipelines over the CIFAR data directories, per StudentNet.

Training data are decoded once into memory (uint8) and streamed pass after
pass, each pass a seeded permutation (`train_dataset`), so a run can resume
at any step with the very batches it would have seen. Evaluation reads one
ordered pass: TFRecordDataset -> parse -> decode PNG -> cache -> standardise
-> batch -> prefetch.
"""

import numpy as np
import tensorflow as tf

from mentornet import errors
from mentornet.data import datasets
from mentornet.data import records
from mentornet.data import shards


def _decoded(files, dataset_name):
  """Dataset of {image uint8 [H, W, 3], label, clean_label, id} in file order.

  Records without an id get their position in the file list as id.
  """
  size = datasets.get(dataset_name).image_size

  def parse(index, serialized):
    ex = records.parse_example(serialized, datasets.get(dataset_name).label_key)
    image = tf.io.decode_png(ex["png"], channels=3)
    image = tf.ensure_shape(image, [size, size, 3])
    example_id = tf.where(ex["id"] >= 0, ex["id"], index)
    return {
        "image": image,
        "label": ex["label"],
        "clean_label": ex["clean_label"],
        "id": example_id
    }

  ds = tf.data.TFRecordDataset(files).enumerate()
  return ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)


def augment(image, pad, seed, preprocessing="standardize"):
  """Training preprocessing of one uint8 image, stateless random ops.

  The StudentNet's own padding (`students.StudentNet.pad`: resnet101
  crops or pads to size + 4; inception zero-pads size / 4 = 8 pixels on each
  side, the original's `padding = image_size / 4` under Python 2's integer
  division), then a random crop back to the image's size, a random
  left-right flip, and the StudentNet's `preprocessing`: per-image
  standardisation (MentorNet's), or MentorMix's colour distortion and
  scaling to [-1, 1] (`mentormix_color`).

  Args:
    image: uint8 [H, W, 3].
    pad: `(float image, size) -> padded image`.
    seed: int64 [2], the stateless seed of crop, flip (and colour).
    preprocessing: a name of `PREPROCESSING`.
  """
  size = image.shape[0]
  image = pad(tf.cast(image, tf.float32), size)
  seeds = tf.random.experimental.stateless_split(seed, 2)
  image = tf.image.stateless_random_crop(image, [size, size, 3], seed=seeds[0])
  image = tf.image.stateless_random_flip_left_right(image, seed=seeds[1])
  return PREPROCESSING[preprocessing][0](image, seed)


def standardize(image):
  """Evaluation preprocessing: per-image standardisation only."""
  return tf.image.per_image_standardization(tf.cast(image, tf.float32))


def mentormix_color(image, seed):
  """MentorMix's training colour: to [0, 1], brightness, saturation, hue and
  contrast in one of its two orders (chosen at random), clipped, then to
  [-1, 1] (`distort_color` of its `cifar_data_provider.py`). `seed` is the
  image's augmentation seed; the colour draws take their own from it."""
  seeds = tf.random.experimental.stateless_split(
      tf.random.experimental.stateless_fold_in(seed, 2), 5)
  image = image / 255.0
  brightness = lambda x: tf.image.stateless_random_brightness(
      x, 32.0 / 255.0, seeds[0])
  saturation = lambda x: tf.image.stateless_random_saturation(
      x, 0.5, 1.5, seeds[1])
  hue = lambda x: tf.image.stateless_random_hue(x, 0.2, seeds[2])
  contrast = lambda x: tf.image.stateless_random_contrast(x, 0.5, 1.5, seeds[3])
  order = tf.random.stateless_uniform([], seeds[4], maxval=2, dtype=tf.int32)
  image = tf.cond(tf.equal(order, 0),
                  lambda: contrast(hue(saturation(brightness(image)))),
                  lambda: hue(saturation(contrast(brightness(image)))))
  return 2.0 * (tf.clip_by_value(image, 0.0, 1.0) - 0.5)


def mentormix_scale(image):
  """MentorMix's evaluation preprocessing: `(x - 127.5) / 127.5`."""
  return (tf.cast(image, tf.float32) - 127.5) / 127.5


# name -> (training tail `(float image, augmentation seed) -> image`, evaluation
# `uint8 image -> float image`); the names of `students.StudentNet`.
PREPROCESSING = {
    "standardize":
        (lambda image, seed: tf.image.per_image_standardization(image),
         standardize),
    "mentormix": (mentormix_color, mentormix_scale),
}


def load_examples(files, dataset_name):
  """Every record of `files`, decoded, in file order, as NumPy arrays.

  Returns:
    {"image": uint8 [N, H, W, 3], "label", "clean_label", "id": int64 [N]}.
  """
  batches = list(_decoded(files, dataset_name).batch(4096).as_numpy_iterator())
  if not batches:
    raise errors.BadInput(f"no records in {', '.join(files)}")
  return {
      key: np.concatenate([b[key] for b in batches])
      for key in ("image", "label", "clean_label", "id")
  }


def has_clean_labels(examples):
  """Whether every record carries its clean label (this project's records do;
  the original's format does not)."""
  return bool(np.all(examples["clean_label"] >= 0))


def pass_order(num_examples, seed, pass_index, offset=None):
  """The order in which pass `pass_index` visits the examples.

  A seeded permutation of `range(num_examples)`, a pure function of
  (seed, pass): `pass_order(N, seed, p)[j]` is the index of the example at
  place j of pass p (int64 [N]), or, given `offset`, just that place's.
  """
  if offset is None:
    offset = tf.range(num_examples, dtype=tf.int64)
  return tf.random.experimental.index_shuffle(
      offset, tf.stack([tf.cast(seed, tf.int64),
                        tf.cast(pass_index, tf.int64)]), num_examples - 1)


def train_dataset(data_dir,
                  dataset_name,
                  pad,
                  batch_size,
                  seed=0,
                  split_name="train",
                  files=None,
                  examples=None,
                  start=0,
                  preprocessing="standardize"):
  """Endless, shuffled, augmented training batches, from any position.

  The stream is pass after pass over the data: pass p visits every example
  exactly once, in the order `pass_order(N, seed, p)`, and the example at
  position i of the stream (i = p * N + j) is augmented with the stateless
  seed (seed, i). The stream is therefore a pure function of the data and
  the seed, and `start=step * batch_size` continues a run exactly where its
  step left off (batches run across pass boundaries, as the original's
  batching queue did).

  Args:
    data_dir: directory of `<dataset>_<split>-*` TFRecords.
    dataset_name: a registered dataset (`datasets.py`).
    pad: the StudentNet's padding before the random crop
      (`students.StudentNet.pad`).
    batch_size: examples per batch.
    seed: seed of the order and the augmentation.
    split_name: the split's file prefix.
    files: the record files, if already listed and checked.
    examples: `load_examples(files)`, if already loaded.
    start: position in the stream of the first example.
    preprocessing: the StudentNet's preprocessing, a name of
      `PREPROCESSING`.

  Returns:
    A `tf.data.Dataset` of dicts {image float32 [B, H, W, 3], label,
    clean_label, id, index (the example's row in `examples`)}.
  """
  if examples is None:
    files = files or shards.record_files(data_dir, dataset_name, split_name)
    examples = load_examples(files, dataset_name)
  num_examples = len(examples["label"])
  arrays = {k: tf.constant(v) for k, v in examples.items()}

  def example_at(position):
    index = pass_order(num_examples,
                       seed,
                       position // num_examples,
                       offset=position % num_examples)
    example = {k: v[index] for k, v in arrays.items()}
    example["index"] = index  # the example's row in the records
    example["image"] = augment(example["image"], pad,
                               tf.stack([tf.cast(seed, tf.int64), position]),
                               preprocessing)
    return example

  ds = tf.data.Dataset.range(int(start), 2**62)
  ds = ds.map(example_at, num_parallel_calls=tf.data.AUTOTUNE)
  return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def eval_dataset(data_dir,
                 dataset_name,
                 batch_size,
                 split_name="test",
                 files=None,
                 select=None,
                 preprocessing="standardize"):
  """One ordered pass over a split, standardised, the last batch kept.

  Args:
    data_dir, dataset_name, batch_size, split_name, files: as
      `train_dataset`.
    select: optional boolean array, one entry per record in file order: keep
      only the records where it is True.

  Returns:
    A `tf.data.Dataset` of dicts like `train_dataset`'s.
  """
  files = files or shards.record_files(data_dir, dataset_name, split_name)

  def preprocess(example):
    example = dict(example)
    example["image"] = PREPROCESSING[preprocessing][1](example["image"])
    return example

  ds = _decoded(files, dataset_name)
  if select is not None:
    mask = tf.constant(select, tf.bool)
    ds = ds.enumerate().filter(lambda i, _: mask[i]).map(lambda _, ex: ex)
  ds = ds.cache()
  ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
  return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def supervised_dataset(data_dir,
                       dataset_name,
                       split_name,
                       batch_size,
                       shuffle_seed=None,
                       clean_labels=False):
  """`(image, label)` batches of one pass over a split, for `model.fit`.

  Images are standardised as for evaluation (no augmentation); the labels
  are the records' training labels (the noisy ones in a noisy split). The
  dataset knows its length, so `fit` can count its steps.

  Args:
    data_dir: directory of `<dataset>_<split>-*` TFRecords.
    dataset_name: a registered dataset (`datasets.py`).
    split_name: the split's file prefix, e.g. "train" or "test".
    batch_size: examples per batch (the last batch may be smaller).
    shuffle_seed: None for file order; else the seed of a shuffle redrawn
      every epoch.
    clean_labels: give `(image, {"label": ..., "clean_label": ...})`
      instead, for `keras_model.MentorNetModel`'s noise metrics (records
      without clean labels give -1).

  Returns:
    A `tf.data.Dataset` of (float32 [B, H, W, 3], int64 [B]), or of
    (images, {"label", "clean_label"}) with `clean_labels`.
  """
  files = shards.record_files(data_dir, dataset_name, split_name)
  num_examples = shards.count_records(files, dataset_name)
  # The decoded uint8 images are cached, a quarter of their float size.
  ds = _decoded(files, dataset_name).map(lambda ex: (ex["image"], {
      "label": ex["label"],
      "clean_label": ex["clean_label"]
  })).cache()
  ds = ds.apply(tf.data.experimental.assert_cardinality(num_examples))
  if shuffle_seed is not None:
    ds = ds.shuffle(num_examples,
                    seed=shuffle_seed,
                    reshuffle_each_iteration=True)

  def prepare(image, labels):
    return standardize(image), labels if clean_labels else labels["label"]

  ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
  return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
