"""What `model.fit` hands a curriculum model: the loss, the labels, the steps.

A curriculum weighs each example's loss, so the compiled loss must give one
value per example (`per_example_loss_fn`, `check_per_example`); labels may
come with their clean labels as `{"label", "clean_label"}`
(`split_clean_labels`); the progress epoch needs the steps of a `fit`
(`steps_per_epoch`).
"""

import math

import keras
import tensorflow as tf

from mentornet import errors

LABEL, CLEAN_LABEL, ID = "label", "clean_label", "id"


def per_example_loss_fn(loss):
  """The compiled loss as `(y_true, y_pred, sample_weight) -> [B]`.

  Raises:
    ValueError: no loss, several, or a Keras loss that reduces the batch.
  """
  if loss is None:
    raise errors.BadInput(
        "MentorNetModel.compile needs a loss that gives one "
        "value per example, e.g. keras.losses.SparseCategorical"
        "Crossentropy(from_logits=True, reduction=None)")
  if isinstance(loss, (list, tuple, dict)):
    raise errors.BadInput(
        "MentorNetModel trains a model with one output and one "
        f"loss; got {type(loss).__name__} of losses")
  loss = keras.losses.get(loss)
  if isinstance(loss, keras.losses.Loss):
    if loss.reduction not in (None, "none"):
      raise errors.BadInput(
          f"loss {loss.name} has reduction='{loss.reduction}'; MentorNet "
          "weighs each example, so create it with reduction=None")
    return loss
  if not callable(loss):
    raise errors.BadInput(f"loss {loss!r} is not callable")

  def call(y_true, y_pred, sample_weight=None):
    values = loss(y_true, y_pred)
    if sample_weight is not None:
      values = values * tf.cast(tf.reshape(sample_weight, tf.shape(values)),
                                values.dtype)
    return values

  return call


def check_per_example(values, name):
  """The loss output must be `[B]`: one value per example."""
  if values.shape.rank != 1:
    raise errors.BadInput(
        f"loss {name} returned shape {values.shape.as_list()}; MentorNet "
        "needs one value per example (shape [batch]): use a Keras loss with "
        "reduction=None, or a function that reduces everything but the "
        "batch axis")
  return values


def steps_per_epoch(x, batch_size=None, steps=None, validation_split=0.0):
  """Training steps in one epoch of `fit(x, ...)`, or None if unknown.

  Args:
    x: what `fit` receives: a `tf.data.Dataset`, a `keras.utils.PyDataset`,
      an array, or a list, tuple or dict of arrays.
    batch_size: `fit`'s batch size for arrays (Keras' default 32).
    steps: `fit`'s `steps_per_epoch`, if given.
    validation_split: `fit`'s fraction of arrays held out.
  """
  if steps:
    return int(steps)
  if isinstance(x, tf.data.Dataset):
    cardinality = int(x.cardinality())
    return cardinality if cardinality > 0 else None
  if isinstance(x, keras.utils.PyDataset):
    return x.num_batches
  first = x
  while isinstance(first, (list, tuple, dict)) and first:
    first = (next(iter(first.values()))
             if isinstance(first, dict) else first[0])
  if not hasattr(first, "shape") or not first.shape:
    return None
  num_train = math.ceil(int(first.shape[0]) * (1.0 - validation_split))
  return math.ceil(num_train / (batch_size or 32))


def split_labels(y):
  """(labels, clean labels or None, example ids or None) of what `fit` gives
  as `y`: labels, or a dict with "label" and optionally "clean_label" and
  "id"."""
  if not isinstance(y, dict):
    return y, None, None
  if LABEL not in y or not set(y) <= {LABEL, CLEAN_LABEL, ID}:
    raise errors.BadInput(
        f"labels given as a dict must have the key '{LABEL}' and may have "
        f"'{CLEAN_LABEL}' and '{ID}', got {sorted(y)}")
  return y[LABEL], y.get(CLEAN_LABEL), y.get(ID)


def split_clean_labels(y):
  """(labels, clean labels or None) of what `fit` gives as `y`."""
  return split_labels(y)[:2]
