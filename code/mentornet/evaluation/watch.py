"""Watching a training run: its record, its checkpoints on disk, and the
wait for new ones.

`adopt_training_config` takes the network from the run's record;
`pending(config, adopted, done)` yields the checkpoints to evaluate, in step
order: at once with `eval_once`/`eval_all`, else each within `POLL_SECS` of
its save, rounds at least `eval_interval_secs` apart (the final step's at
once), until the final step, `timeout_secs` without a new checkpoint, or
`trainer_wait_secs` without a trainer. It says at once what it waits for.
"""

import os
import re
import time

from absl import logging

from mentornet import errors
from mentornet.config import settings
from mentornet.evaluation import waiting
from mentornet.runs import checkpoints
from mentornet.runs import run_dir

EvalError = errors.EvalError

ARCHITECTURE_FIELDS = ("dataset_name", "studentnet", "num_residual_units",
                       "resnet_widths")


def adopt_training_config(config):
  """Takes architecture and final step from the run's record, if present.

  The checkpoints can only be read by the network they were written by, so
  the run's own settings win over flags (with a warning naming the flags it
  uses when they differ). The record is `train_config.json`, or the copy in
  the newest checkpoint when the file is gone or was edited by hand.

  Returns:
    (the config, whether the run's record was found).

  Raises:
    ValueError: one line for a record that cannot be read as a run's.
  """
  saved, source = run_dir.saved_record(config.checkpoint_dir, binding=False)
  if saved is None:
    return config, False
  changes, ours = {}, settings.to_flat(config)
  for field in ARCHITECTURE_FIELDS:
    if field not in saved:
      raise errors.BadInput(f"{source} has no field {field}; it is not a "
                            "StudentNet run's record")
    value = saved[field]
    value = tuple(value) if field == "resnet_widths" else value
    if value != ours[field]:
      changes[field] = value
  if changes:
    logging.warning(
        "using the training run's %s (from %s)",
        " ".join(f"--{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}"
                 for k, v in changes.items()), source)
  if not config.max_number_of_steps:
    changes["max_number_of_steps"] = saved["max_number_of_steps"]
  # A run that averaged its weights is scored with the averages (MentorMix).
  changes["ema_decay"] = saved.get("ema_decay", 0.0)
  return config.replace(**changes), True


def checkpoint_step(path):
  """The step a checkpoint was saved at, from its `-<step>` suffix."""
  match = re.search(r"-(\d+)$", path)
  return int(match.group(1)) if match else 0


def checkpoints_on_disk(checkpoint_dir):
  """The complete checkpoints of a run, oldest step first, found from the
  files on disk (not from the `checkpoint` state file, which may be gone)."""
  return checkpoints.complete_prefixes(checkpoint_dir, run_dir.CHECKPOINT_NAME)


def latest_checkpoint(checkpoint_dir):
  found = checkpoints_on_disk(checkpoint_dir)
  if not found:
    raise errors.MissingInput(
        f"no StudentNet checkpoint ({run_dir.CHECKPOINT_NAME}-<step>) in "
        f"{checkpoint_dir}" if os.path.isdir(checkpoint_dir) else
        f"--checkpoint_dir={checkpoint_dir} does not exist")
  return found[-1]


# How often the job looks for a new checkpoint (a directory listing and a
# lock probe): a checkpoint is evaluated within seconds of its save.
POLL_SECS = waiting.POLL_SECS


class _Watch:
  """The state of the wait for new checkpoints: when the last one appeared,
  when a trainer was last seen, when the last round of evaluations ran."""

  def __init__(self, config):
    self.config = config
    self.start = self.last_new = self.last_alive = time.monotonic()
    self.last_round = None
    self.known = set()
    self.deferred = set()

  def due(self, new, now, alive):
    """Whether to evaluate the checkpoints `new` now: the first round at
    once, later ones `eval_interval_secs` apart, and at once when they reach
    the final step or no trainer is left to save more."""
    if set(new) - self.known:
      self.last_new = now
      self.known.update(new)
    if not new:
      return False
    final = self.config.max_number_of_steps
    spaced = (self.last_round is None or
              now - self.last_round >= self.config.eval_interval_secs)
    if (spaced or not alive or
        final and max(map(checkpoint_step, new)) >= final):
      self.last_round = now
      return True
    if new[-1] not in self.deferred:
      self.deferred.add(new[-1])
      logging.info(
          "%s is saved; it is evaluated in %.0f s (--eval_interval_secs)",
          new[-1], self.config.eval_interval_secs - (now - self.last_round))
    return False

  def sleep(self):
    c = self.config
    time.sleep(
        max(0.1, min(POLL_SECS, c.eval_interval_secs, c.trainer_wait_secs)))


def pending(config, adopted, done):
  """(checkpoint, config) to evaluate, in step order, as `run` describes;
  the config takes the run's record once it appears (`adopted`: already)."""
  if config.eval_once:
    yield latest_checkpoint(config.checkpoint_dir), config
    return
  if config.eval_all:
    latest_checkpoint(config.checkpoint_dir)  # says what is missing
  else:
    waiting.say(config)
  watch = _Watch(config)
  while True:
    if not adopted:  # before any checkpoint is read: the run's network
      config, adopted = adopt_training_config(config)
      watch.config = config
    new = [
        p for p in checkpoints_on_disk(config.checkpoint_dir)
        if checkpoint_step(p) not in done
    ]
    now = time.monotonic()
    alive = run_dir.trainer_is_running(config.checkpoint_dir)
    if alive:
      watch.last_alive = now
    if config.eval_all or watch.due(new, now, alive):
      for path in new:
        yield path, config
    if config.eval_all or _finished(config, done, watch, now):
      return
    watch.sleep()


def _finished(config, done, watch, now):
  """Whether the wait is over: the final step evaluated, `timeout_secs`
  without a new checkpoint, or no trainer for `trainer_wait_secs` (an error
  before the final step)."""
  final = config.max_number_of_steps
  if final and done and max(done) >= final:
    return True
  if config.timeout_secs and now - watch.last_new >= config.timeout_secs:
    logging.info("no new checkpoint for %d s; stopping", config.timeout_secs)
    return True
  if now - max(watch.last_alive, watch.start) < config.trainer_wait_secs:
    return False
  if _unevaluated(config, done):
    return False  # saved since the last look: the next poll evaluates it
  reached = max(done) if done else "none"
  if not done:
    raise EvalError(
        f"no trainer came to {config.checkpoint_dir} within "
        f"{config.trainer_wait_secs:g} s (--trainer_wait_secs) and it "
        "holds no checkpoint: nothing was evaluated" if watch.last_alive ==
        watch.start else f"the trainer of {config.checkpoint_dir} stopped "
        "without a checkpoint: nothing was evaluated")
  if not final:
    logging.info("no trainer holds %s; stopping", config.checkpoint_dir)
    return True
  raise EvalError(
      f"no trainer has held {config.checkpoint_dir} for "
      f"{config.trainer_wait_secs:g} s and its last checkpoint is step "
      f"{reached} of {final}: the run stopped before its end")


def _unevaluated(config, done):
  return any(
      checkpoint_step(p) not in done
      for p in checkpoints_on_disk(config.checkpoint_dir))
