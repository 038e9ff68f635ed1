"""An exponential moving average of the trainable weights (MentorMix's).

As TF1's `tf.train.ExponentialMovingAverage(decay, num_updates=global_step)`
that the original MentorMix script applied to its StudentNet's trainable
variables and its evaluation restored: each update moves every shadow by
`(1 - d) * (shadow - weight)` with `d = min(decay, (1 + n) / (10 + n))`,
n the step's index; the shadows start as the weights' initial values.
"""

import tensorflow as tf

from mentornet import errors


class WeightAverage(tf.Module):
  """Shadow copies of `variables`, updated after each optimizer step.

  Saved in a run's checkpoints as `weight_average`; `copy_to` puts the
  averages into a model's weights (what the evaluation job scores).
  """

  def __init__(self, variables, decay, name="weight_average"):
    super().__init__(name=name)
    if not 0.0 < decay < 1.0:
      raise errors.BadInput(f"weight average decay {decay} must lie in (0, 1)")
    self.decay = float(decay)
    self._weights = list(variables)
    self.shadows = [
        tf.Variable(tf.convert_to_tensor(v),
                    trainable=False,
                    name=f"shadow_{i}") for i, v in enumerate(self._weights)
    ]

  def update(self, num_updates):
    """One update after step `num_updates` (0 for the first)."""
    n = tf.cast(num_updates, tf.float32)
    decay = tf.minimum(self.decay, (1.0 + n) / (10.0 + n))
    for shadow, weight in zip(self.shadows, self._weights):
      shadow.assign_sub(
          (1.0 - decay) * (shadow - tf.cast(weight, shadow.dtype)))

  def copy_to(self, variables):
    """Assigns the averages to `variables` (a model's trainable weights, in
    the order the average was made with)."""
    if len(variables) != len(self.shadows):
      raise errors.BadInput(
          f"the weight average has {len(self.shadows)} tensors,"
          f" the model {len(variables)}")
    for variable, shadow in zip(variables, self.shadows):
      variable.assign(shadow)
