"""Curricula as Keras layers: `(per-example loss [B], global step) -> weights`.

`UniformCurriculum` weighs every example 1 (the baseline);
`MentorNetCurriculum` asks a frozen MentorNet, as the original training did.
A curriculum is a Keras layer so that its state (the moving average) goes
wherever the model's goes: `tf.train.Checkpoint` in the scripts, and Keras'
`save_weights`, `ModelCheckpoint` and `BackupAndRestore` for `model.fit`.
Everything runs inside a compiled step: `tf.function`, XLA and `tf.distribute`
replicas.
"""

import collections

import keras
import numpy as np
import tensorflow as tf

from mentornet import errors
from mentornet import config as config_lib
from mentornet.curriculum import arithmetic
from mentornet.config import NUM_EPOCHS

DATA_UTIL_THRESHOLD = 0.001  # a weight above this counts as "used".

CurriculumOutput = collections.namedtuple("CurriculumOutput",
                                          ["weights", "stats"])


class _Curriculum(keras.layers.Layer):
  """A curriculum layer: `(loss [B], global_step) -> CurriculumOutput`.

  It computes in float32 whatever Keras' global dtype policy (a mixed
  precision StudentNet's losses are float32 too: `models.precision`).
  """

  def __init__(self, **kwargs):
    kwargs["dtype"] = "float32"
    super().__init__(**kwargs)

  def __call__(self, loss, global_step):
    # Keras layers take tensors only as positional arguments; the step may be
    # a Python int or the optimizer's `iterations` variable.
    return super().__call__(tf.convert_to_tensor(loss),
                            tf.convert_to_tensor(global_step))

  def after_burn_in(self, global_step):
    """Whether the weights of step `global_step` judge the examples (no
    burn-in forces them to 1): a bool scalar; always, but for a MentorNet's
    burn-in."""
    del global_step
    return tf.constant(True)


class UniformCurriculum(_Curriculum):
  """Every example weighs 1: the baseline, same interface as the MentorNet one."""

  STATS = ("data_util", "sum_v")  # the statistics `call` returns

  def __init__(self, name="uniform_curriculum", **kwargs):
    super().__init__(name=name, **kwargs)
    self.built = True

  def call(self, loss, global_step):
    del global_step
    weights = tf.ones_like(loss)
    one = tf.ones([], tf.float32)
    return CurriculumOutput(weights, {
        "data_util": one,
        "sum_v": tf.reduce_sum(weights)
    })


class ThresholdCurriculum(_Curriculum):
  """MentorMix's simplest curriculum, its `loss_thresholding_function`: weight
  0 for an example whose loss is at or above the batch's p-percentile, 1
  below; no MentorNet, no moving average, no drop-out.

  The percentile is the original's `percentile(loss, int(p * 100))`
  (nearest, as TF 1.8's and TFP's), over all replicas' losses.
  """

  STATS = ("data_util", "sum_v", "percentile_loss")

  def __init__(self,
               percentile=config_lib.THRESHOLD_PERCENTILE,
               name="threshold_curriculum",
               **kwargs):
    """`percentile`: the batch percentile at and above which an example
    weighs 0 (the original function's default, 0.75)."""
    super().__init__(name=name, **kwargs)
    config_lib.CurriculumConfig(loss_p_percentile=percentile).check()
    percent = int(percentile * 100)  # the original's int q
    self._fraction = 1.0 - percent / 100.0  # index round((B-1)(1-q/100))
    self.built = True

  def call(self, loss, global_step):
    del global_step
    loss = tf.stop_gradient(tf.cast(loss, tf.float32))
    percentile_loss = arithmetic.nearest_percentile(
        arithmetic.all_replicas(loss), np.float64(self._fraction))
    v = tf.cast(loss < percentile_loss, tf.float32)
    return CurriculumOutput(
        v, {
            "data_util":
                tf.reduce_mean(tf.cast(v > DATA_UTIL_THRESHOLD, tf.float32)),
            "sum_v":
                tf.reduce_sum(v),
            "percentile_loss":
                percentile_loss
        })


def _dropout_table(rates):
  """The 100 per-epoch drop-out rates (float32) from a 'rate,n_epochs,...'
  string or a list of 100 rates."""
  if isinstance(rates, str):
    rates = arithmetic.parse_dropout_rate_list(rates)
  if len(rates) != NUM_EPOCHS:
    raise errors.BadInput(
        f"example_dropout_rates has {len(rates)} rates, needs "
        f"one per epoch ({NUM_EPOCHS})")
  return np.asarray(rates, np.float32)


class MentorNetCurriculum(_Curriculum):
  """Example weights from a frozen MentorNet, as in the original training.

  A Keras layer, so that its state goes wherever the model's goes: the
  moving average (`moving_average`, the original's `mentor_inputs/cumulative`)
  is a non-trainable Keras weight, saved by `tf.train.Checkpoint` (the
  scripts) and by Keras' own `save_weights`, `ModelCheckpoint` and
  `BackupAndRestore` (`training.keras_model`). The MentorNet's variables are
  not: it is frozen and given at construction. Create the layer inside
  `strategy.scope()` when training under a distribution strategy.
  """

  STATS = ("data_util", "sum_v", "percentile_loss", "moving_average",
           "dropout_rate", "epoch")  # the statistics `call` returns

  def __init__(self,
               mentornet,
               max_number_of_steps,
               seed=0,
               name="mentor_inputs",
               **kwargs):
    """Builds the curriculum.

    Args:
      mentornet: a frozen `MentorNet` (its variables are never updated).
      max_number_of_steps: the run's total steps, defines the progress
        epoch; None to set it later with `set_max_number_of_steps` (before
        the first step).
      seed: seed of the random example drop-out.
      name: layer name.
      **kwargs: the curriculum settings of `config.CurriculumConfig`, whose
        defaults apply (`loss_p_percentile`, `burn_in_epoch`,
        `fixed_epoch_after_burn_in`, `loss_moving_average_decay`,
        `example_dropout_rates`: a string for `parse_dropout_rate_list` or a
        list of 100 rates; `trained_mentornet_dir` is not used), and other
        `keras.layers.Layer` arguments.

    Raises:
      ValueError: a setting out of range, with one line saying which.
    """
    settings = {
        k: kwargs.pop(k)
        for k in list(kwargs)
        if k in config_lib.CURRICULUM_FIELDS
    }
    super().__init__(name=name, **kwargs)
    settings = config_lib.CurriculumConfig.from_flat(**settings)
    settings.check()
    self.mentornet = mentornet
    self.burn_in_epoch = int(settings.burn_in_epoch)
    self.fixed_epoch_after_burn_in = bool(settings.fixed_epoch_after_burn_in)
    self.decay = float(settings.loss_moving_average_decay)
    self.seed = int(seed)
    # Per-epoch tables, float32 as the original's.
    self.loss_p_percentile = np.full([NUM_EPOCHS], settings.loss_p_percentile,
                                     np.float32)
    self.example_dropout_rates = _dropout_table(settings.example_dropout_rates)
    self._percentile_fraction = arithmetic.percentile_fraction(
        self.loss_p_percentile)
    self._keep_fraction = arithmetic.keep_fraction(self.example_dropout_rates)
    self.max_number_of_steps = None
    if max_number_of_steps is not None:
      self.set_max_number_of_steps(max_number_of_steps)
    # Every replica computes the same value (losses are all-gathered), so
    # keeping the first replica's update is exact.
    self.moving_average = self.add_weight(shape=(),
                                          initializer="zeros",
                                          name="cumulative",
                                          trainable=False,
                                          aggregation="only_first_replica")
    self.built = True

  def set_max_number_of_steps(self, max_number_of_steps):
    """Sets the total steps that define the progress epoch (before step 1)."""
    if int(max_number_of_steps) <= 0:
      raise errors.BadInput(
          f"max_number_of_steps {max_number_of_steps} must be positive")
    self.max_number_of_steps = int(max_number_of_steps)
    self._epoch_boundaries = arithmetic.epoch_boundaries(
        self.max_number_of_steps)

  def _fed_epoch(self, global_step):
    """The epoch MentorNet is fed at a step: its progress epoch, or with
    `fixed_epoch_after_burn_in` at most the burn-in epoch."""
    epoch = arithmetic.training_epoch(global_step, self.max_number_of_steps,
                                      self._epoch_boundaries)
    if self.fixed_epoch_after_burn_in:
      return tf.minimum(epoch, self.burn_in_epoch)
    return epoch

  def after_burn_in(self, global_step):
    cur_epoch = self._fed_epoch(global_step)
    return tf.logical_not(cur_epoch < self.burn_in_epoch - 1)

  def call(self, loss, global_step):
    """Returns the example weights for a batch of per-example losses.

    Args:
      loss: float `[B]` per-example losses of this replica's batch.
      global_step: scalar int, the step being taken (0 for the first).

    Returns:
      `CurriculumOutput(weights, stats)`: float32 weights `[B]` (constant for
      the gradient) and a dict of float32 scalar summaries.
    """
    if self.max_number_of_steps is None:
      raise errors.BadInput(
          "MentorNetCurriculum needs max_number_of_steps (the "
          "run's total steps) before the first step")
    loss = tf.stop_gradient(tf.cast(loss, tf.float32))
    cur_epoch = self._fed_epoch(global_step)
    dropout_rate = tf.gather(self.example_dropout_rates, cur_epoch)

    percentile_loss = arithmetic.nearest_percentile(
        arithmetic.all_replicas(loss),
        tf.gather(self._percentile_fraction, cur_epoch))
    moving_average = (tf.convert_to_tensor(self.moving_average) * self.decay +
                      (1.0 - self.decay) * percentile_loss)
    self.moving_average.assign(moving_average)

    batch_size = tf.shape(loss)[0]
    zeros = tf.zeros_like(loss)
    epoch_column = tf.fill([batch_size], tf.cast(cur_epoch, tf.float32))
    features = tf.stack([loss, loss - moving_average, zeros, epoch_column], 1)
    v = self.mentornet.weights(features)
    burn_in = tf.cast(cur_epoch < self.burn_in_epoch - 1, tf.float32)
    v = tf.maximum(v, burn_in)
    v = v * arithmetic.dropout_mask(
        batch_size, tf.gather(self._keep_fraction, cur_epoch),
        arithmetic.dropout_key(self.seed, global_step), arithmetic.replica_id())
    v = tf.stop_gradient(v)
    stats = {
        "data_util":
            tf.reduce_mean(tf.cast(v > DATA_UTIL_THRESHOLD, tf.float32)),
        "sum_v":
            tf.reduce_sum(v),
        "percentile_loss":
            percentile_loss,
        "moving_average":
            moving_average,
        "dropout_rate":
            tf.cast(dropout_rate, tf.float32),
        "epoch":
            tf.cast(cur_epoch, tf.float32),
    }
    return CurriculumOutput(v, stats)
