"""The minimised loss of a batch, and what the curriculum did to it.

`weighted_objective` turns per-example losses into the loss one replica
minimises (weights, `sum(v * loss) / B`, the regularisation rule); the noise
diagnostics (`noise_sums`, `noise_diagnostics`) tell how much weight the
correctly labelled and the mislabelled examples got.
"""

import collections

import tensorflow as tf

from mentornet import errors
from mentornet import config as config_lib

Objective = collections.namedtuple("Objective", ["total", "weights", "metrics"])


def _global_batch(loss, global_batch_size):
  """(B as float32, the number of replicas): B given, or counted over all
  replicas (an all-reduce when there are several)."""
  ctx = tf.distribute.get_replica_context()
  num_replicas = 1 if ctx is None else ctx.num_replicas_in_sync
  if global_batch_size is not None:
    return tf.cast(global_batch_size, tf.float32), num_replicas
  global_batch = tf.cast(tf.shape(loss)[0], tf.float32)
  if num_replicas > 1:
    global_batch = ctx.all_reduce(tf.distribute.ReduceOp.SUM, global_batch)
  return global_batch, num_replicas


def weighted_objective(per_example_loss,
                       curriculum,
                       global_step,
                       regularization_losses=(),
                       regularization=config_lib.REGULARIZATION_ADDED,
                       global_batch_size=None):
  """One replica's minimised loss: the weighting code of every training path.

  The training step (`training.step`), which the scripts' loop and
  `model.fit` both run, calls this.

  Args:
    per_example_loss: float `[b]` losses of this replica's b examples.
    curriculum: a `MentorNetCurriculum` or `UniformCurriculum`.
    global_step: scalar int, the step being taken (0 for the first).
    regularization_losses: the model's `losses` (e.g. weight decay).
    regularization: how they enter the loss, one of `config.REGULARIZATIONS`:
      "added" (as Keras adds them), "scaled_by_weights" (times `sum(v) / B`,
      the original resnet MentorNet script) or "none" (ignored, as the
      original inception scripts did).
    global_batch_size: B, the examples of this step over all replicas; None
      to count them (an all-reduce when there are several replicas).

  Returns:
    `Objective(total, weights, metrics)`: the replica's share of the
    minimised loss (the replicas' shares sum to it, as `tf.distribute` sums
    gradients), the example weights `[b]`, and a dict of this replica's
    shares of the summed metrics `orig_loss`, `weighted_loss`, `decay_loss`,
    `mean_weight`, `sum_v`, plus the curriculum's statistics.
  """
  if regularization not in config_lib.REGULARIZATIONS:
    raise errors.BadInput(
        f"regularization '{regularization}' is unknown; choose "
        f"one of {', '.join(config_lib.REGULARIZATIONS)}")
  loss = tf.cast(per_example_loss, tf.float32)
  global_batch, num_replicas = _global_batch(loss, global_batch_size)
  out = curriculum(loss, global_step)
  v = out.weights
  weighted = tf.reduce_sum(loss * v) / global_batch
  decay = tf.constant(0.0)
  if (regularization != config_lib.REGULARIZATION_NONE and
      regularization_losses):
    decay = tf.cast(tf.add_n(list(regularization_losses)), tf.float32)
    # Each replica adds its share, so that the shares sum to the whole.
    decay = (decay * tf.reduce_sum(v) / global_batch if regularization
             == config_lib.REGULARIZATION_SCALED_BY_WEIGHTS else decay /
             num_replicas)
  metrics = {
      "orig_loss": tf.reduce_sum(loss) / global_batch,
      "weighted_loss": weighted,
      "decay_loss": decay,
      "mean_weight": tf.reduce_sum(v) / global_batch
  }
  metrics.update(out.stats)
  return Objective(weighted + decay, v, metrics)


NOISE_SUMS = ("noise_v_clean", "noise_v_noisy", "noise_n_clean",
              "noise_n_noisy")


def noise_masks(labels, clean_labels):
  """float32 masks (correctly labelled, mislabelled) of a batch.

  An example is correctly labelled when its (noisy) training label equals
  its clean label; records without a clean label (-1, the original's
  format) are neither.
  """
  labels = tf.cast(labels, tf.int64)
  clean_labels = tf.cast(clean_labels, tf.int64)
  known = clean_labels >= 0
  clean = tf.logical_and(known, tf.equal(labels, clean_labels))
  noisy = tf.logical_and(known, tf.not_equal(labels, clean_labels))
  return tf.cast(clean, tf.float32), tf.cast(noisy, tf.float32)


def noise_sums(weights, labels, clean_labels):
  """This replica's shares of the sums behind the noise diagnostics.

  Returns:
    {"noise_v_clean", "noise_v_noisy": the summed weights of the correctly
    labelled and of the mislabelled examples (`noise_masks`);
    "noise_n_clean", "noise_n_noisy": their counts}, float32 scalars to be
    summed over replicas (and steps).
  """
  clean, noisy = noise_masks(labels, clean_labels)
  weights = tf.cast(weights, tf.float32)
  return dict(
      zip(NOISE_SUMS,
          (tf.reduce_sum(weights * clean), tf.reduce_sum(
              weights * noisy), tf.reduce_sum(clean), tf.reduce_sum(noisy))))


def noise_diagnostics(sums):
  """The noise diagnostics from (summed) `noise_sums`, as Python floats.

  Returns:
    {"weight_share_clean": summed weight of the correctly labelled examples
    over the summed weight of all; "mean_weight_clean", "mean_weight_noisy":
    mean weight of the correctly labelled and of the mislabelled examples}.
    A value whose denominator is 0 (no weight, no such example) is left out.
  """
  v_clean, v_noisy, n_clean, n_noisy = (float(sums[k]) for k in NOISE_SUMS)
  out = {}
  for name, numerator, denominator in (("weight_share_clean", v_clean,
                                        v_clean + v_noisy),
                                       ("mean_weight_clean", v_clean, n_clean),
                                       ("mean_weight_noisy", v_noisy, n_noisy)):
    if denominator > 0:
      out[name] = numerator / denominator
  return out
