"""The original curriculum's arithmetic, exactly, in NumPy and TensorFlow ops.

The original's `utils.mentornet` and the training scripts' progress epoch, to
the last rounding: the progress epoch (`progress_epoch`, `training_epoch`),
TF 1.8's batch-loss percentile (`nearest_percentile`), the drop-out schedule
and count (`parse_dropout_rate_list`, `kept_count`), and the drop-out draw:
a counter-based hash of (seed, step, replica, example) that gives the same
numbers eagerly, under XLA and on any device, with no Python callback.
"""

import math

import numpy as np
import tensorflow as tf

from mentornet import errors
from mentornet.config import NUM_EPOCHS


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
    raise errors.BadInput(
        f"example_dropout_rates '{text}': every field must be a number, as in "
        "'rate,n_epochs,rate,n_epochs,...'") from None
  if len(numbers) % 2:
    raise errors.BadInput(
        f"example_dropout_rates '{text}': needs pairs 'rate,n_epochs', got "
        f"{len(numbers)} fields")
  rates = []
  for rate, count in zip(numbers[0::2], numbers[1::2]):
    if not 0.0 <= rate <= 1.0:
      raise errors.BadInput(
          f"example_dropout_rates '{text}': rate {rate:g} is outside [0, 1]")
    if count != int(count) or count < 0:
      raise errors.BadInput(
          f"example_dropout_rates '{text}': epoch count {count:g} must be a "
          "non-negative integer")
    rates.extend([rate] * int(count))
  if len(rates) != NUM_EPOCHS:
    raise errors.BadInput(
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
  index = tf.round(
      tf.cast(n - 1, tf.float64) * tf.cast(fraction_at_or_above, tf.float64))
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
  return tf.floor(
      tf.cast(batch_size, tf.float64) * tf.cast(fraction, tf.float64))


def _mul32(x, c):
  """`x * c mod 2**32` for x in [0, 2**32), without int64 overflow."""
  mask = tf.constant(0xFFFFFFFF, tf.int64)
  low = x * (c & 0xFFFF)
  high = tf.bitwise.left_shift(tf.bitwise.bitwise_and(x * (c >> 16), 0xFFFF),
                               16)
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


def replica_id():
  """This replica's id in its `tf.distribute` strategy (0 outside one): the
  key of its own random draws."""
  ctx = tf.distribute.get_replica_context()
  return 0 if ctx is None else ctx.replica_id_in_sync_group


def all_replicas(values):
  """`values` [b] of every replica, concatenated in replica order (as they
  are outside a strategy or with one replica): the percentile of the
  curricula and the label evidence see the whole global batch."""
  ctx = tf.distribute.get_replica_context()
  if ctx is None or ctx.num_replicas_in_sync == 1:
    return values
  return ctx.all_gather(values, axis=0)


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
