"""A run's checkpoints as the files on disk say, not as the state file says.

The `checkpoint` state file is a convenience: it can be deleted, hold garbage
or name a checkpoint whose files are gone. Here a checkpoint is
`<name>-<step>.index` plus every `.data-*-of-N` shard it needs, found by
listing the directory. A run resumes from the newest checkpoint that restores
whole and finite, and says in one line which newer ones it passed over and
why; those (and the leftovers of saves cut short) are moved into
`unreadable/` byte for byte, so that later saves never write over them. The
state file is then rewritten from what is on disk.

The invariants: a trainer never starts from scratch in a directory that holds
checkpoints (it resumes or refuses), and never writes over a checkpoint file
it did not resume from.
"""

import collections
import glob
import os
import re
import shutil

from absl import logging
import tensorflow as tf

from mentornet import errors

QUARANTINE = "unreadable"
# Parts of a run's checkpoint that older versions of this project did not
# write; restored only when present.
OPTIONAL_PARTS = ("seed_generators", "run_config", "label_evidence")

Found = collections.namedtuple("Found", ["step", "prefix", "complete"])

RestoreError = errors.RestoreError


def _shards(prefix):
  """The data shards a checkpoint names (from any one of them), or []."""
  names = glob.glob(glob.escape(prefix) + ".data-*-of-*")
  if not names:
    return []
  total = int(re.search(r"-of-(\d+)$", names[0]).group(1))
  return [f"{prefix}.data-{i:05d}-of-{total:05d}" for i in range(total)]


def on_disk(directory, name):
  """Every checkpoint `<directory>/<name>-<step>` with any file on disk.

  Returns:
    A list of `Found(step, prefix, complete)`, newest step first; complete
    means the index and all data shards are there.
  """
  pattern = re.compile(re.escape(name) + r"-(\d+)\.(index|data-\d+-of-\d+)$")
  steps = set()
  for entry in os.listdir(directory) if os.path.isdir(directory) else ():
    match = pattern.match(entry)
    if match:
      steps.add(int(match.group(1)))
  found = []
  for step in sorted(steps, reverse=True):
    prefix = os.path.join(directory, f"{name}-{step}")
    shards = _shards(prefix)
    complete = (os.path.exists(prefix + ".index") and bool(shards) and
                all(os.path.exists(s) for s in shards))
    found.append(Found(step, prefix, complete))
  return found


def complete_prefixes(directory, name):
  """The complete checkpoints of a directory, oldest step first."""
  return [f.prefix for f in reversed(on_disk(directory, name)) if f.complete]


def has_part(prefix, part):
  """Whether the checkpoint at `prefix` holds values under `part/`."""
  return any(
      n.startswith(part + "/") for n, _ in tf.train.list_variables(prefix))


GLOB_CHARACTERS = "[]*?"


def check_plain_path(flag, path):
  """Raises ValueError for a directory path TensorFlow cannot restore from:
  its checkpoint reader finds a checkpoint's files by glob, so `[`, `]`,
  `*` or `?` in the path make every restore fail."""
  bad = sorted({c for c in str(path) if c in GLOB_CHARACTERS})
  if bad:
    raise errors.BadInput(
        f"--{flag}={path} holds {' '.join(bad)}, which TensorFlow's checkpoint"
        " reader takes as a glob pattern: a run there could never be resumed"
        " or evaluated; choose a path without [ ] * ?")


def first_line(error):
  """The first line of an error's message (at most 200 characters)."""
  text = str(getattr(error, "message", "") or error).strip()
  return (text.splitlines() or [type(error).__name__])[0][:200]


def restore_newest(directory, name, parts, all_finite):
  """Restores the newest checkpoint that reads back whole and finite.

  Args:
    directory: where the checkpoints are.
    name: their file name prefix, e.g. "model.ckpt".
    parts: {name: trackable} of the run's checkpoint; the `OPTIONAL_PARTS`
      are restored only from checkpoints that hold them.
    all_finite: a function telling whether the restored state is finite.

  Returns:
    (prefix restored or None when there is no checkpoint at all, the list of
    (prefix, reason) of newer checkpoints passed over).

  Raises:
    RestoreError: there are checkpoint files but none restores.
  """
  found = on_disk(directory, name)
  skipped = []
  for entry in found:
    if not entry.complete:
      skipped.append((entry.prefix, "its index or a data shard is missing"))
      continue
    try:
      present = {
          k: v
          for k, v in parts.items()
          if k not in OPTIONAL_PARTS or has_part(entry.prefix, k)
      }
      status = tf.train.Checkpoint(**present).restore(entry.prefix)
      status.expect_partial()
      status.assert_existing_objects_matched()
    except Exception as e:  # pylint: disable=broad-except
      # A truncated or corrupted file shows as DataLossError, IndexError,
      # ValueError, OutOfRangeError, ...: any failure means "unreadable".
      skipped.append((entry.prefix, first_line(e)))
      continue
    if not all_finite():
      skipped.append((entry.prefix, "it holds NaN or Inf values"))
      continue
    return entry.prefix, skipped
  if found:
    newest, reason = skipped[0]
    raise RestoreError(
        f"{directory} holds checkpoints but none restores (newest: {newest}: "
        f"{reason}); nothing was changed: move them away to start afresh")
  return None, skipped


def quarantine(directory, prefixes):
  """Moves every file of the checkpoints `prefixes` into `unreadable/`.

  Returns:
    The paths moved to.
  """
  target = os.path.join(directory, QUARANTINE)
  moved = []
  for prefix in prefixes:
    for path in glob.glob(glob.escape(prefix) + ".*"):
      os.makedirs(target, exist_ok=True)
      destination = os.path.join(target, os.path.basename(path))
      if os.path.exists(destination):  # an earlier one of the same step
        destination += f".{len(os.listdir(target))}"
      shutil.move(path, destination)
      moved.append(destination)
  return moved


def rewrite_state(directory, name, latest):
  """Rewrites the `checkpoint` state file from the complete checkpoints on
  disk up to `latest` (atomically, as TensorFlow writes it), with their save
  times, so that the `CheckpointManager` made next rotates them as it would
  have in the uninterrupted run (without times it keeps them forever)."""
  step = int(latest.rsplit("-", 1)[1])
  prefixes = [
      p for p in complete_prefixes(directory, name)
      if int(p.rsplit("-", 1)[1]) <= step
  ]
  times = [os.path.getmtime(p + ".index") for p in prefixes]
  tf.compat.v1.train.update_checkpoint_state(
      directory,
      os.path.basename(latest),
      all_model_checkpoint_paths=[os.path.basename(p) for p in prefixes],
      all_model_checkpoint_timestamps=times,
      last_preserved_timestamp=min(times, default=0.0) - 1.0)


def rng_states(model):
  """The states of a Keras model's random generators (e.g. its Dropout
  layers'), which `tf.train.Checkpoint(model=...)` does not save: a run
  resumed without them would draw other dropout masks."""
  return [
      v for v in model.non_trainable_variables
      if v.path.endswith("seed_generator_state")
  ]


def stored_config(prefix):
  """The run configuration saved in a checkpoint (a JSON string), or None
  for checkpoints of versions that did not save it."""
  if not has_part(prefix, "run_config"):
    return None
  value = tf.train.load_checkpoint(prefix).get_tensor(
      "run_config/.ATTRIBUTES/VARIABLE_VALUE")
  return value.decode() if isinstance(value, bytes) else str(value)


def resume(directory, name, parts, all_finite, may_write=True):
  """`restore_newest`, then makes the directory safe to save into.

  Newer checkpoints that were passed over are named in one warning line and,
  when `may_write` (the chief, holding the directory's lock), moved into
  `unreadable/`; the state file is rewritten to name the one resumed from.

  Returns:
    The prefix resumed from, or None for a fresh run.
  """
  latest, skipped = restore_newest(directory, name, parts, all_finite)
  if skipped:
    logging.warning("passed over %s; resumed from %s",
                    "; ".join(f"{p} ({reason})" for p, reason in skipped),
                    latest or "nothing")
  if may_write and skipped:
    moved = quarantine(directory, [p for p, _ in skipped])
    if moved:
      logging.warning("moved %d file(s) of those checkpoints into %s",
                      len(moved), os.path.join(directory, QUARANTINE))
  if may_write and latest:
    rewrite_state(directory, name, latest)
  state = os.path.join(directory, "checkpoint")
  if may_write and latest is None and os.path.exists(state):
    # A state file naming no checkpoint on disk; kept for inspection.
    logging.warning("%s names no checkpoint on disk; moved it into %s", state,
                    os.path.join(directory, QUARANTINE))
    os.makedirs(os.path.join(directory, QUARANTINE), exist_ok=True)
    shutil.move(state, os.path.join(directory, QUARANTINE, "checkpoint"))
  return latest
