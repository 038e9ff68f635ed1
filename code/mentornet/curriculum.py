"""Per-step example weights of StudentNet training, in TensorFlow ops.

The arithmetic follows the original's `utils.mentornet` and the training
scripts' progress epoch exactly (see `training_epoch`, `nearest_percentile`
and `kept_count`). `weighted_objective` turns per-example losses into the
minimised loss; the scripts' loop and Keras `model.fit` both use it.

Everything here runs inside a compiled training step: `tf.function`, XLA
(`jit_compile=True`) and `tf.distribute` replicas. There is no Python callback;
the random example drop-out draws from a counter-based hash of
(seed, global_step, replica, example), so a resumed run draws the same
examples again.
"""

import collections
import math

import keras
import numpy as np
import tensorflow as tf

NUM_EPOCHS = 100  # the training-progress "epochs" 0..99 of the original.
DATA_UTIL_THRESHOLD = 0.001  # a weight above this counts as "used".

CurriculumOutput = collections.namedtuple("CurriculumOutput",
                                          ["weights", "stats"])
Objective = collections.namedtuple("Objective", ["total", "weights",
                                                 "metrics"])

# How a model's regularisation losses (`model.losses`) enter the minimised
# loss; see `weighted_objective`.
REGULARIZATION_ADDED = "added"
REGULARIZATION_SCALED_BY_WEIGHTS = "scaled_by_weights"
REGULARIZATION_NONE = "none"
REGULARIZATIONS = (REGULARIZATION_ADDED, REGULARIZATION_SCALED_BY_WEIGHTS,
                   REGULARIZATION_NONE)


def parse_dropout_rate_list(text):
  """Expands `rate,n_epochs,rate,n_epochs,...` into 100 per-epoch rates.

  Args:
    text: comma-separated string, e.g. `0.5,17,0.05,78,1.0,5`.

  Returns:
    A list of 100 floats.

  Raises:
    ValueError: with one line naming what is wrong: non-numbers, an odd number
      of fields, a rate outside [0, 1], a non-integer or negative count, or
      counts that do not sum to 100.
  """
  fields = [f.strip() for f in str(text).split(",")]
  try:
    numbers = [float(f) for f in fields]
  except ValueError:
    raise ValueError(
        f"example_dropout_rates '{text}': every field must be a number, as in "
        "'rate,n_epochs,rate,n_epochs,...'") from None
  if len(numbers) % 2:
    raise ValueError(
        f"example_dropout_rates '{text}': needs pairs 'rate,n_epochs', got "
        f"{len(numbers)} fields")
  rates = []
  for rate, count in zip(numbers[0::2], numbers[1::2]):
    if not 0.0 <= rate <= 1.0:
      raise ValueError(
          f"example_dropout_rates '{text}': rate {rate:g} is outside [0, 1]")
    if count != int(count) or count < 0:
      raise ValueError(
          f"example_dropout_rates '{text}': epoch count {count:g} must be a "
          "non-negative integer")
    rates.extend([rate] * int(count))
  if len(rates) != NUM_EPOCHS:
    raise ValueError(
        f"example_dropout_rates '{text}': epoch counts sum to {len(rates)}, "
        f"must sum to {NUM_EPOCHS}")
  return rates


def progress_epoch(step, max_number_of_steps):
  """The original's progress epoch of one step, in Python: 0..99.

  The original computed `floor(tf.divide(step, max_steps) * 100)`, and
  `tf.divide` of two int64 tensors is a float64 division, so the epoch is
  `floor(float64(step) / float64(max_steps) * 100.0)`; Python's `int / int`
  is that same correctly rounded float64 division. The float rounding gives
  one epoch less than exact integer arithmetic at a few steps (with 39,000
  steps: 11,310, 22,230 and 22,620); that is reproduced. Clipped to [0, 99]
  (the original never ran a step at or past `max_steps`).
  """
  epoch = math.floor(int(step) / int(max_number_of_steps) * NUM_EPOCHS)
  return min(max(epoch, 0), NUM_EPOCHS - 1)


def epoch_boundaries(max_number_of_steps):
  """First step of each epoch 1..99 under `progress_epoch`: 99 int64 values.

  Found in Python once, so the compiled step only compares integers: a
  graph optimiser or XLA may turn a division by a constant into a
  multiplication by its reciprocal, which rounds differently.
  """
  m = int(max_number_of_steps)
  bounds = []
  for epoch in range(1, NUM_EPOCHS):
    step = max(0, -(-epoch * m // NUM_EPOCHS) - 2)  # just below ceil(e*m/100)
    while progress_epoch(step, m) < epoch:
      step += 1
    bounds.append(step)
  return np.asarray(bounds, np.int64)


def training_epoch(global_step, max_number_of_steps, boundaries=None):
  """`progress_epoch` in TensorFlow ops (int32), exact under any compiler.

  Args:
    global_step: scalar int tensor.
    max_number_of_steps: the run's total steps.
    boundaries: `epoch_boundaries(max_number_of_steps)`, if already known.
  """
  if boundaries is None:
    boundaries = epoch_boundaries(max_number_of_steps)
  step = tf.cast(global_step, tf.int64)
  return tf.reduce_sum(tf.cast(step >= tf.constant(boundaries), tf.int32))


def percentile_fraction(q):
  """`1 - q100 / 100` of the original percentile, per q (NumPy, float64).

  The original called TF 1.8's `tf.contrib.distributions.percentile(loss,
  q * 100)` (default `nearest` interpolation) with `q` from a float32 table:
  `q100 = float32(q) * float32(100)` in float32, then in float64 the index
  `round((B - 1) * (1 - q100 / 100))`, round half to even, into the losses
  sorted in DESCENDING order. This returns the float64 fraction; the index
  is taken in `nearest_percentile`.
  """
  q100 = np.asarray(q, np.float32) * np.float32(100.0)
  return 1.0 - q100.astype(np.float64) / 100.0


def nearest_percentile(values, fraction_at_or_above):
  """The original's batch-loss percentile.

  Args:
    values: 1-D float tensor of B losses.
    fraction_at_or_above: float64 scalar from `percentile_fraction`.

  Returns:
    The value at index `round((B - 1) * fraction)` (round half to even,
    clipped to [0, B - 1]) of the values sorted in descending order.
  """
  descending = tf.sort(values, direction="DESCENDING")
  n = tf.shape(values)[0]
  index = tf.round(tf.cast(n - 1, tf.float64) *
                   tf.cast(fraction_at_or_above, tf.float64))
  index = tf.clip_by_value(tf.cast(index, tf.int32), 0, n - 1)
  return tf.gather(descending, index)


def keep_fraction(rate):
  """`1 - rate` as the original's drop-out computed it (NumPy, float64).

  The rate came out of a float32 tensor into NumPy, where `1 - rate`
  promoted it to float64; `int(B * (1 - rate))` examples were kept: 94 of
  100 at rate 0.05, 1 of 10 at rate 0.9.
  """
  return 1.0 - np.asarray(rate, np.float32).astype(np.float64)


def kept_count(batch_size, fraction):
  """`floor(B * fraction)` in float64, with `fraction` from `keep_fraction`."""
  return tf.floor(tf.cast(batch_size, tf.float64) *
                  tf.cast(fraction, tf.float64))


def _mul32(x, c):
  """`x * c mod 2**32` for x in [0, 2**32), without int64 overflow."""
  mask = tf.constant(0xFFFFFFFF, tf.int64)
  low = x * (c & 0xFFFF)
  high = tf.bitwise.left_shift(
      tf.bitwise.bitwise_and(x * (c >> 16), 0xFFFF), 16)
  return tf.bitwise.bitwise_and(low + high, mask)


def _hash32(x):
  """A 32-bit integer mixing hash ("lowbias32") in int64 ops.

  Used instead of `tf.random` because its streams differ between eager and
  XLA; this gives the same numbers everywhere.
  """
  mask = tf.constant(0xFFFFFFFF, tf.int64)
  x = tf.bitwise.bitwise_and(x, mask)
  x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))
  x = _mul32(x, 0x7FEB352D)
  x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 15))
  x = _mul32(x, 0x846CA68B)
  return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))


def dropout_key(seed, global_step):
  """The drop-out stream key of a step: int64 in [0, 2**32), any shape.

  `_hash32` is a bijection of 32-bit integers, so for one seed the keys of
  steps 0 .. 2**32 - 1 are all different.
  """
  step = tf.cast(global_step, tf.int64)
  return _hash32(step + _hash32(tf.constant(int(seed), tf.int64)))


def dropout_mask(batch_size, fraction, key, replica=0):
  """{0, 1} masks keeping exactly `kept_count(batch_size, fraction)` entries.

  Each entry i of replica r draws `_hash32(key XOR _hash32(256 i + r))`, and
  the entries with the lowest draws are kept. For one (i, r) the draw is a
  bijection of the key, so two different keys give every entry a different
  draw; within one key the draws of a batch are all different (no ties).
  The whole 32-bit key is used. The same key gives the same mask in eager
  mode, under XLA and on any device.

  Args:
    batch_size: scalar int tensor, at most 2**24.
    fraction: float64 scalar, `keep_fraction(rate)` of the drop-out rate.
    key: int64 tensor of any shape, from `dropout_key`.
    replica: this replica's id in [0, 256).

  Returns:
    float32 tensor of shape `key.shape + [batch_size]`.
  """
  keep = kept_count(batch_size, fraction)
  index = tf.range(tf.cast(batch_size, tf.int64), dtype=tf.int64)
  lanes = _hash32(index * 256 + tf.cast(replica, tf.int64))
  key = tf.convert_to_tensor(key, tf.int64)
  noise = _hash32(tf.bitwise.bitwise_xor(key[..., None], lanes))
  # Rank of each entry in a random permutation; keep the first `keep` ranks.
  ranks = tf.argsort(tf.argsort(noise, axis=-1), axis=-1)
  return tf.cast(tf.cast(ranks, tf.float64) < keep, tf.float32)


class _Curriculum(keras.layers.Layer):
  """A curriculum layer: `(loss [B], global_step) -> CurriculumOutput`."""

  def __call__(self, loss, global_step):
    # Keras layers take tensors only as positional arguments; the step may be
    # a Python int or the optimizer's `iterations` variable.
    return super().__call__(tf.convert_to_tensor(loss),
                            tf.convert_to_tensor(global_step))


class UniformCurriculum(_Curriculum):
  """Every example weighs 1: the baseline, same interface as the MentorNet one."""

  def __init__(self, name="uniform_curriculum", **kwargs):
    super().__init__(name=name, **kwargs)
    self.built = True

  def call(self, loss, global_step):
    del global_step
    weights = tf.ones_like(loss)
    one = tf.ones([], tf.float32)
    return CurriculumOutput(weights, {"data_util": one,
                                      "sum_v": tf.reduce_sum(weights)})


class MentorNetCurriculum(_Curriculum):
  """Example weights from a frozen MentorNet, as in the original training.

  A Keras layer, so that its state goes wherever the model's goes: the
  moving average (`moving_average`, the original's `mentor_inputs/cumulative`)
  is a non-trainable Keras weight, saved by `tf.train.Checkpoint` (the
  scripts) and by Keras' own `save_weights`, `ModelCheckpoint` and
  `BackupAndRestore` (`mentornet.keras_model`). The MentorNet's variables are
  not: it is frozen and given at construction. Create the layer inside
  `strategy.scope()` when training under a distribution strategy.
  """

  def __init__(self, mentornet, max_number_of_steps, loss_p_percentile=0.7,
               burn_in_epoch=0, fixed_epoch_after_burn_in=False,
               loss_moving_average_decay=0.5,
               example_dropout_rates="0.5,17,0.05,78,1.0,5", seed=0,
               name="mentor_inputs", **kwargs):
    """Builds the curriculum.

    Args:
      mentornet: a frozen `MentorNet` (its variables are never updated).
      max_number_of_steps: the run's total steps, defines the progress
        epoch; None to set it later with `set_max_number_of_steps` (before
        the first step).
      loss_p_percentile: fraction in [0, 1] for the batch-loss percentile.
      burn_in_epoch: weights are forced to 1 while epoch < burn_in_epoch - 1.
      fixed_epoch_after_burn_in: feed min(epoch, burn_in_epoch) to MentorNet.
      loss_moving_average_decay: decay of the percentile's moving average.
      example_dropout_rates: string for `parse_dropout_rate_list`, or a list
        of 100 rates.
      seed: seed of the random example drop-out.
      name: layer name.
      **kwargs: other `keras.layers.Layer` arguments.

    Raises:
      ValueError: an argument out of range, with one line saying which.
    """
    super().__init__(name=name, **kwargs)
    if not 0.0 <= loss_p_percentile <= 1.0:
      raise ValueError(
          f"loss_p_percentile {loss_p_percentile} is outside [0, 1]")
    if not 0.0 <= loss_moving_average_decay <= 1.0:
      raise ValueError(f"loss_moving_average_decay {loss_moving_average_decay}"
                       " is outside [0, 1]")
    if not 0 <= int(burn_in_epoch) <= NUM_EPOCHS:
      raise ValueError(f"burn_in_epoch {burn_in_epoch} is outside [0, 100]")
    if isinstance(example_dropout_rates, str):
      example_dropout_rates = parse_dropout_rate_list(example_dropout_rates)
    if len(example_dropout_rates) != NUM_EPOCHS:
      raise ValueError(f"example_dropout_rates has {len(example_dropout_rates)}"
                       f" rates, needs one per epoch ({NUM_EPOCHS})")
    self.mentornet = mentornet
    self.burn_in_epoch = int(burn_in_epoch)
    self.fixed_epoch_after_burn_in = bool(fixed_epoch_after_burn_in)
    self.decay = float(loss_moving_average_decay)
    self.seed = int(seed)
    # Per-epoch tables, float32 as the original's.
    self.loss_p_percentile = np.full([NUM_EPOCHS], loss_p_percentile,
                                     np.float32)
    self.example_dropout_rates = np.asarray(example_dropout_rates, np.float32)
    self._percentile_fraction = percentile_fraction(self.loss_p_percentile)
    self._keep_fraction = keep_fraction(self.example_dropout_rates)
    self.max_number_of_steps = None
    if max_number_of_steps is not None:
      self.set_max_number_of_steps(max_number_of_steps)
    # Every replica computes the same value (losses are all-gathered), so
    # keeping the first replica's update is exact.
    self.moving_average = self.add_weight(
        shape=(), initializer="zeros", name="cumulative", trainable=False,
        aggregation="only_first_replica")
    self.built = True

  def set_max_number_of_steps(self, max_number_of_steps):
    """Sets the total steps that define the progress epoch (before step 1)."""
    if int(max_number_of_steps) <= 0:
      raise ValueError(
          f"max_number_of_steps {max_number_of_steps} must be positive")
    self.max_number_of_steps = int(max_number_of_steps)
    self._epoch_boundaries = epoch_boundaries(self.max_number_of_steps)

  def _global_losses(self, loss):
    """All replicas' losses, so the percentile matches one-device training."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
      return loss
    return ctx.all_gather(loss, axis=0)

  def _replica_id(self):
    ctx = tf.distribute.get_replica_context()
    return 0 if ctx is None else ctx.replica_id_in_sync_group

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
      raise ValueError("MentorNetCurriculum needs max_number_of_steps (the "
                       "run's total steps) before the first step")
    loss = tf.stop_gradient(tf.cast(loss, tf.float32))
    epoch = training_epoch(global_step, self.max_number_of_steps,
                           self._epoch_boundaries)
    cur_epoch = epoch
    if self.fixed_epoch_after_burn_in:
      cur_epoch = tf.minimum(epoch, self.burn_in_epoch)
    dropout_rate = tf.gather(self.example_dropout_rates, cur_epoch)

    percentile_loss = nearest_percentile(
        self._global_losses(loss),
        tf.gather(self._percentile_fraction, cur_epoch))
    moving_average = (tf.convert_to_tensor(self.moving_average) * self.decay
                      + (1.0 - self.decay) * percentile_loss)
    self.moving_average.assign(moving_average)

    batch_size = tf.shape(loss)[0]
    zeros = tf.zeros_like(loss)
    epoch_column = tf.fill([batch_size], tf.cast(cur_epoch, tf.float32))
    features = tf.stack([loss, loss - moving_average, zeros, epoch_column], 1)
    v = self.mentornet.weights(features)
    burn_in = tf.cast(cur_epoch < self.burn_in_epoch - 1, tf.float32)
    v = tf.maximum(v, burn_in)
    v = v * dropout_mask(batch_size,
                         tf.gather(self._keep_fraction, cur_epoch),
                         dropout_key(self.seed, global_step),
                         self._replica_id())
    v = tf.stop_gradient(v)
    stats = {
        "data_util": tf.reduce_mean(
            tf.cast(v > DATA_UTIL_THRESHOLD, tf.float32)),
        "sum_v": tf.reduce_sum(v),
        "percentile_loss": percentile_loss,
        "moving_average": moving_average,
        "dropout_rate": tf.cast(dropout_rate, tf.float32),
        "epoch": tf.cast(cur_epoch, tf.float32),
    }
    return CurriculumOutput(v, stats)


def weighted_objective(per_example_loss, curriculum, global_step,
                       regularization_losses=(),
                       regularization=REGULARIZATION_ADDED,
                       global_batch_size=None):
  """One replica's minimised loss: the weighting code of every training path.

  The scripts' loop (`train_lib`) and `model.fit` (`keras_model`) both call
  this, so they weight, scale and regularise the same way.

  Args:
    per_example_loss: float `[b]` losses of this replica's b examples.
    curriculum: a `MentorNetCurriculum` or `UniformCurriculum`.
    global_step: scalar int, the step being taken (0 for the first).
    regularization_losses: the model's `losses` (e.g. weight decay).
    regularization: how they enter the loss; one of REGULARIZATIONS:
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
    `sum_v`, plus the curriculum's statistics.
  """
  if regularization not in REGULARIZATIONS:
    raise ValueError(f"regularization '{regularization}' is unknown; choose "
                     f"one of {', '.join(REGULARIZATIONS)}")
  ctx = tf.distribute.get_replica_context()
  num_replicas = 1 if ctx is None else ctx.num_replicas_in_sync
  loss = tf.cast(per_example_loss, tf.float32)
  if global_batch_size is not None:
    global_batch = tf.cast(global_batch_size, tf.float32)
  else:
    global_batch = tf.cast(tf.shape(loss)[0], tf.float32)
    if num_replicas > 1:
      global_batch = ctx.all_reduce(tf.distribute.ReduceOp.SUM, global_batch)
  out = curriculum(loss, global_step)
  v = out.weights
  weighted = tf.reduce_sum(loss * v) / global_batch
  decay = tf.constant(0.0)
  if regularization != REGULARIZATION_NONE and regularization_losses:
    decay = tf.cast(tf.add_n(list(regularization_losses)), tf.float32)
    # Each replica adds its share, so that the shares sum to the whole.
    decay = (decay * tf.reduce_sum(v) / global_batch
             if regularization == REGULARIZATION_SCALED_BY_WEIGHTS
             else decay / num_replicas)
  metrics = {"orig_loss": tf.reduce_sum(loss) / global_batch,
             "weighted_loss": weighted, "decay_loss": decay}
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
  return dict(zip(NOISE_SUMS, (tf.reduce_sum(weights * clean),
                               tf.reduce_sum(weights * noisy),
                               tf.reduce_sum(clean), tf.reduce_sum(noisy))))


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
  for name, numerator, denominator in (
      ("weight_share_clean", v_clean, v_clean + v_noisy),
      ("mean_weight_clean", v_clean, n_clean),
      ("mean_weight_noisy", v_noisy, n_noisy)):
    if denominator > 0:
      out[name] = numerator / denominator
  return out
