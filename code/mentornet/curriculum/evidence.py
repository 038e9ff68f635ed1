"""Per-example evidence of mislabelling, kept while training.

`LabelEvidence` holds, for each of a training set's N examples (by row, its
place in the training records), three float32 sums over the steps that
counted: how often the example was trained on (`seen`), the sum of the
curriculum's weights it got (`weight_sum`) and the sum of its losses
(`loss_sum`). A step counts after the curriculum's burn-in (before it, every
weight is 1 and says nothing); the baseline's uniform curriculum counts every
step. A weight zeroed by the example drop-out is summed as 0: every example
is dropped with the same probability, so this scales every example's mean
weight alike in expectation.

Invariants:
  - The sums are variables updated inside the training step (no Python), by
    the same arithmetic on every replica: each replica all-gathers the
    step's rows, losses and weights, so every copy holds the sums over the
    whole global batch (aggregation: the first replica's copy).
  - They are part of the run's checkpoint: a resumed run's sums are an
    uninterrupted run's, bit for bit. A checkpoint of an older version,
    which lacks them, resumes with zero sums and `start_step` set to the step
    resumed from.
  - float32 counts are exact up to 2**24 (16.7 million) occurrences.
"""

import keras
import numpy as np
import tensorflow as tf

from mentornet import errors
from mentornet.curriculum import arithmetic

# The names of the sums, as variables and as a checkpoint's keys.
SUMS = ("seen", "weight_sum", "loss_sum")


class LabelEvidence(keras.layers.Layer):
  """The per-example sums of one training run (see the module's doc).

  A Keras layer, as the curriculum is, so that its sums go wherever a
  model's weights go: `tf.train.Checkpoint` (the scripts) and Keras'
  `save_weights`, `ModelCheckpoint` and `BackupAndRestore` (`fit`).
  """

  def __init__(self, num_examples, name="label_evidence", **kwargs):
    kwargs["dtype"] = "float32"
    super().__init__(name=name, **kwargs)
    if int(num_examples) < 1:
      raise errors.BadInput(
          f"label evidence needs at least one example, got {num_examples}")
    self.num_examples = int(num_examples)
    for sum_name in SUMS:
      setattr(
          self, sum_name,
          self.add_weight(shape=(self.num_examples,),
                          initializer="zeros",
                          name=sum_name,
                          trainable=False,
                          aggregation="only_first_replica"))
    # The first step the sums cover (0, or the step a run of an older
    # version resumed from).
    self.start_step = self.add_weight(shape=(),
                                      initializer="zeros",
                                      dtype="int64",
                                      name="start_step",
                                      trainable=False,
                                      aggregation="only_first_replica")
    self.built = True

  def get_config(self):
    return {**super().get_config(), "num_examples": self.num_examples}

  def update(self, rows, losses, weights, counted):
    """Adds one step of this replica's examples (all replicas' when
    distributed).

    Args:
      rows: int `[b]` rows of the examples in the training records.
      losses: float `[b]` their losses (those the curriculum weighed).
      weights: float `[b]` the curriculum's weights.
      counted: scalar bool, whether this step counts (after burn-in).
    """
    rows = arithmetic.all_replicas(tf.reshape(tf.cast(rows, tf.int64), [-1, 1]))
    losses = arithmetic.all_replicas(tf.cast(losses, tf.float32))
    weights = arithmetic.all_replicas(tf.cast(weights, tf.float32))
    scale = tf.cast(counted, tf.float32)
    for variable, values in ((self.seen, tf.ones_like(losses)),
                             (self.weight_sum, weights), (self.loss_sum,
                                                          losses)):
      variable.assign(
          tf.tensor_scatter_nd_add(tf.convert_to_tensor(variable), rows,
                                   values * scale))

  def numpy(self):
    """{"seen", "weight_sum", "loss_sum": float32 [N], "start_step": int}."""
    out = {name: getattr(self, name).numpy() for name in SUMS}
    out["start_step"] = int(self.start_step.numpy())
    return out


def means(sums):
  """Mean weight and mean loss per example from `LabelEvidence.numpy()`:
  float64 [N] each, NaN for an example never counted."""
  seen = np.asarray(sums["seen"], np.float64)
  with np.errstate(invalid="ignore", divide="ignore"):
    return (np.where(seen > 0, sums["weight_sum"] / seen,
                     np.nan), np.where(seen > 0, sums["loss_sum"] / seen,
                                       np.nan))


RANKINGS = ("mean_weight", "mean_loss")


def suspicion_order(mean_weight, mean_loss, by):
  """Row order, most suspicious first: by "mean_weight", lowest mean weight
  first, ties by highest mean loss (a curriculum's verdict); by "mean_loss",
  highest mean loss first, ties in row order. Rows never counted (NaN) come
  last, in row order."""
  if by not in RANKINGS:
    raise errors.BadInput(f"rank by one of {', '.join(RANKINGS)}, not {by!r}")
  counted = ~np.isnan(mean_loss)
  loss = np.where(counted, mean_loss, -np.inf)
  if by == "mean_weight":
    weight = np.where(counted, mean_weight, np.inf)
    return np.lexsort((-loss, weight))
  return np.lexsort((np.arange(len(loss)), -loss))


def ranked(sums, by):
  """The evidence most suspicious first (`suspicion_order(..., by)`):
  {"rank", "row", "seen", "mean_weight", "mean_loss"}, NumPy arrays of N
  entries."""
  weight, loss = means(sums)
  order = suspicion_order(weight, loss, by)
  return {
      "rank": np.arange(1,
                        len(order) + 1),
      "row": order,
      "seen": np.asarray(sums["seen"])[order],
      "mean_weight": weight[order],
      "mean_loss": loss[order]
  }
