"""MentorMix's mixup, guided by the curriculum's weights.

The original's `mentor_mix_up` (mentormix `utils.py`): every example i draws
a partner j from the categorical distribution softmax(v) over the batch and
a factor m from Beta(alpha, alpha); m becomes max(m, 1 - m), and 1 - m where
v_i < 0.5, so that an example the curriculum trusts keeps most of itself and
one it distrusts mostly becomes its partner. Images and (one-hot) labels are
mixed as `m x_i + (1 - m) x_j`, with no gradient through the mixing.

The draws are split from the mixing (`draws` and `mix`), so that tests can
give fixed draws; `draws` uses stateless random ops keyed by seed, step and
replica, so that a resumed run draws the same again.
"""

import collections

import tensorflow as tf

from mentornet.curriculum import arithmetic

Draws = collections.namedtuple("Draws", ["partners", "factors"])


def draws(weights, alpha, seed):
  """The random part of MentorMix's mixup for one batch.

  Args:
    weights: float [B] curriculum weights v.
    alpha: the Beta distribution's parameter (> 0).
    seed: int [2], a stateless seed (e.g. from `step_seed`).

  Returns:
    `Draws(partners, factors)`: int64 [B] partner indices drawn from
    softmax(v), float32 [B] factors drawn from Beta(alpha, alpha).
  """
  seeds = tf.random.experimental.stateless_split(seed, 3)
  weights = tf.cast(weights, tf.float32)
  batch = tf.shape(weights)[0]
  # Categorical(probs=softmax(v)) is Categorical(logits=v).
  partners = tf.random.stateless_categorical(weights[None, :], batch,
                                             seeds[0])[0]
  first = tf.random.stateless_gamma([batch], seeds[1], alpha=alpha)
  second = tf.random.stateless_gamma([batch], seeds[2], alpha=alpha)
  return Draws(partners, first / (first + second))


def mix(images, labels, weights, batch_draws):
  """The original's `mentor_mix_up` with the given draws.

  Args:
    images: float [B, H, W, C].
    labels: float [B, K] one-hot (or soft) labels.
    weights: float [B] curriculum weights v.
    batch_draws: `Draws` of this batch.

  Returns:
    (mixed images, mixed labels), without gradient.
  """
  factors = tf.maximum(batch_draws.factors, 1.0 - batch_draws.factors)
  factors = tf.where(
      tf.cast(weights, tf.float32) >= 0.5, factors, 1.0 - factors)
  partner_images = tf.gather(images, batch_draws.partners)
  partner_labels = tf.gather(labels, batch_draws.partners)
  image_factor = tf.reshape(factors, [-1, 1, 1, 1])
  label_factor = tf.reshape(factors, [-1, 1])
  mixed_images = images * image_factor + partner_images * (1.0 - image_factor)
  mixed_labels = labels * label_factor + partner_labels * (1.0 - label_factor)
  return tf.stop_gradient(mixed_images), tf.stop_gradient(mixed_labels)


def step_seed(seed, global_step):
  """The stateless seed of one step's draws on this replica."""
  return tf.stack([
      tf.cast(seed, tf.int64),
      tf.cast(global_step, tf.int64) * 256 +
      tf.cast(arithmetic.replica_id(), tf.int64)
  ])
