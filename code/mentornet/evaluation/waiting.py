"""What the eval job says at once: what it waits for, and how long.

Pure Python (no TensorFlow), so that `cifar_eval.py` says it before the
seconds TensorFlow takes to load; `watch.pending` says it too when the
library is called directly, once per checkpoint directory.
"""

import os

from absl import logging

# How often the job looks for a new checkpoint (a directory listing and a
# lock probe): a checkpoint is evaluated within seconds of its save.
POLL_SECS = 2.0

_said = set()


def say(config):
  """Logs one line about the wait of an `EvalConfig` that waits (neither
  `eval_once` nor `eval_all`), once per checkpoint directory."""
  if config.eval_once or config.eval_all or config.checkpoint_dir in _said:
    return
  _said.add(config.checkpoint_dir)
  if not os.path.isdir(config.checkpoint_dir):
    logging.info(
        "%s does not exist yet: waiting up to %g s (--trainer_wait_secs) for "
        "a trainer to create it", config.checkpoint_dir,
        config.trainer_wait_secs)
    return
  final = (f"step {config.max_number_of_steps}"
           if config.max_number_of_steps else "the run's final step")
  logging.info(
      "waiting for checkpoints in %s: each is evaluated within %g s of its "
      "save, rounds at least %g s apart (--eval_interval_secs; the final "
      "step's at once); it stops after %s, or %g s after the trainer has "
      "gone (--trainer_wait_secs)", config.checkpoint_dir, POLL_SECS,
      config.eval_interval_secs, final, config.trainer_wait_secs)
