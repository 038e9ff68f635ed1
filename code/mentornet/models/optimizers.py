"""Optimizers and learning-rate schedules of the original StudentNet training."""

import keras
from keras import ops

from mentornet import errors
from mentornet import config as config_lib

RESNET_BOUNDARIES = (19531, 25000, 30000)  # MentorNet script, resnet101.


class TF1Momentum(keras.optimizers.Optimizer):
  """Momentum as TF1's `MomentumOptimizer`: `a = m * a + g; w -= lr * a`.

  Keras' SGD folds the learning rate into the velocity (`v = m * v - lr * g`),
  which differs from the original after every learning-rate drop.
  """

  def __init__(self, learning_rate, momentum=0.9, name="momentum", **kwargs):
    super().__init__(learning_rate=learning_rate, name=name, **kwargs)
    self.momentum = momentum

  def build(self, variables):
    if self.built:
      return
    super().build(variables)
    self.accumulators = [
        self.add_variable_from_reference(v, name="accumulator")
        for v in variables
    ]

  def update_step(self, gradient, variable, learning_rate):
    lr = ops.cast(learning_rate, variable.dtype)
    # Keras 3 has no public lookup from a variable to its slot: its own
    # optimizers (SGD's momentums, Adam's moments) use this same
    # `_get_variable_index`, which also resolves distributed variables; a
    # dict of our own keyed by variable would not. Pinned by the tests of
    # the momentum against TF1's formula.
    accumulator = self.accumulators[self._get_variable_index(variable)]
    self.assign(accumulator, accumulator * self.momentum + gradient)
    self.assign_sub(variable, lr * accumulator)

  def get_config(self):
    return {**super().get_config(), "momentum": self.momentum}


def decay_steps(num_examples, batch_size, num_epochs_per_decay):
  """Steps between two decays, in the original's Python 2 arithmetic.

  The original computed `int(num_samples_per_epoch / FLAGS.batch_size *
  FLAGS.num_epochs_per_decay)` under Python 2, where `/` of two ints divides
  and truncates first: 50,000 / 128 = 390, so 390 x 50 = 19,500 steps (not
  19,531) and 390 x 200 = 78,000 (not 78,125). At least 1 (a data set smaller
  than one batch gave the original 0 and a schedule of NaN).
  """
  steps_per_epoch = int(num_examples) // int(batch_size)
  return max(1, int(steps_per_epoch * float(num_epochs_per_decay)))


def resnet_piecewise(learning_rate):
  """The resnet101 MentorNet script's schedule: piecewise constant,
  boundaries 19531, 25000, 30000, values lr x (1, 0.1, 0.01, 0.001)."""
  return keras.optimizers.schedules.PiecewiseConstantDecay(
      list(RESNET_BOUNDARIES),
      [learning_rate * f for f in (1.0, 0.1, 0.01, 0.001)])


def exponential_decay(learning_rate, learning_rate_decay_factor, num_examples,
                      batch_size, num_epochs_per_decay):
  """Staircase exponential decay by the factor every
  `num_examples / batch_size * num_epochs_per_decay` steps (the resnet101
  baseline script, which overwrote its piecewise schedule, and inception)."""
  return keras.optimizers.schedules.ExponentialDecay(
      learning_rate,
      decay_steps(num_examples, batch_size, num_epochs_per_decay),
      learning_rate_decay_factor,
      staircase=True)


def plain_sgd(schedule):
  """Plain gradient descent (the inception scripts)."""
  return keras.optimizers.SGD(schedule)


def make_schedule(optimization, batch_size, num_examples):
  """The learning-rate schedule of a run (its `optimization.schedule`, one
  of `config.SCHEDULES`: piecewise, exponential, exponential_unrounded or
  constant).

  Args:
    optimization: the run's `config.OptimizationConfig` (learning rate,
      decay factor, epochs per decay, schedule).
    batch_size: the run's global batch.
    num_examples: the training records, for the steps of an epoch.
  """
  o, kind = optimization, optimization.schedule
  if kind == config_lib.SCHEDULE_PIECEWISE:
    return resnet_piecewise(o.learning_rate)
  if kind == config_lib.SCHEDULE_EXPONENTIAL:
    return exponential_decay(o.learning_rate, o.learning_rate_decay_factor,
                             num_examples, batch_size, o.num_epochs_per_decay)
  if kind == config_lib.SCHEDULE_CONSTANT:
    return o.learning_rate
  if kind == config_lib.SCHEDULE_EXPONENTIAL_UNROUNDED:
    # MentorMix: `num_epochs_per_decay * N / batch_size`, a float.
    return keras.optimizers.schedules.ExponentialDecay(
        o.learning_rate,
        o.num_epochs_per_decay * num_examples / batch_size,
        o.learning_rate_decay_factor,
        staircase=True)
  raise errors.BadInput(f"schedule '{kind}' is unknown; choose one of "
                        f"{', '.join(config_lib.SCHEDULES)}")
