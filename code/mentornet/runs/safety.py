"""What keeps a training run safe: stop signals, finite state, guarded saves.

SIGTERM and SIGINT become a request honoured after the current step (the
loop saves, then raises `Interrupted`); state is checked finite before every
save, and a failed save names the last complete checkpoint.
"""

import signal
import time

from absl import logging
import tensorflow as tf

from mentornet import errors

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

TrainingError, Interrupted = errors.TrainingError, errors.Interrupted


class Every:
  """True once every `seconds` (and on the first call)."""

  def __init__(self, seconds):
    self.seconds, self.last = seconds, None

  def __call__(self):
    now = time.monotonic()
    if self.last is None or now - self.last >= self.seconds:
      self.last = now
      return True
    return False


class StopSignals:
  """Turns SIGTERM and SIGINT into a request honoured after the current step."""

  def __init__(self):
    self.received = None
    self._previous = {}

  def __enter__(self):
    for sig in STOP_SIGNALS:
      self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    if self.received is None:
      self.received = signum
      logging.warning("received %s: saving a checkpoint after this step",
                      signal.Signals(signum).name)

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


def finite_check(variables):
  """A compiled function: whether every float variable is finite."""
  floats = [v for v in variables if tf.as_dtype(v.dtype).is_floating]

  @tf.function
  def check():
    if not floats:
      return tf.constant(True)
    return tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in floats])

  return lambda: bool(check())


class Saver:
  """Saves checkpoints only of finite state; names the last good one."""

  def __init__(self, manager, all_finite, last_good):
    self.manager, self.all_finite, self.last_good = (manager, all_finite,
                                                     last_good)
    self.last_step = None

  def save(self, step):
    if step == self.last_step:
      return self.last_good
    self.last_step = step
    if not self.all_finite():
      raise TrainingError(
          f"the variables are not finite after step {step}; training stopped "
          f"and nothing was saved. The last good checkpoint is "
          f"{self.last_good or 'none'}")
    try:
      self.last_good = self.manager.save(checkpoint_number=step)
    except (OSError, tf.errors.OpError) as e:
      message = getattr(e, "message", None) or str(e)
      raise TrainingError(
          f"could not save the checkpoint of step {step} "
          f"({message.splitlines()[0]}); the last complete checkpoint is "
          f"{self.last_good or 'none'}") from None
    return self.last_good
