"""A training run's directory: lock, configuration file, worker role, cleanup.

One trainer at a time holds `train_log_dir` (an advisory `flock` on
`.trainer.lock`, released by the operating system when the process dies, so
a killed trainer never leaves it stuck). The run's configuration is written
once, atomically, to `train_config.json`, and only rewritten when it changes.
Under multi-worker training the chief owns `train_log_dir`; every other
worker writes to a throw-away directory beside it and removes it on exit.
"""

import contextlib
import errno
import fcntl
import glob
import json
import os
import re
import shutil
import time

from absl import logging
import tensorflow as tf

from mentornet import config as config_lib
from mentornet import errors
from mentornet import files
from mentornet.config import settings
from mentornet.runs import checkpoints

CONFIG_FILE = "train_config.json"
CHECKPOINT_NAME = "model.ckpt"  # a StudentNet run's checkpoint files
LOCK_FILE = ".trainer.lock"

DirectoryInUse = errors.DirectoryInUse


def read_json(path):
  """The JSON at `path`, or None if it does not exist.

  Raises:
    ValueError: one line naming a file that is not valid JSON.
  """
  try:
    with open(path) as f:
      return json.load(f)
  except FileNotFoundError:
    return None
  except json.JSONDecodeError as e:
    raise errors.BadInput(
        f"{path} is not valid JSON ({e}); remove it to start the "
        "run's configuration afresh") from None


def save_config(directory, value, name=CONFIG_FILE):
  """Writes `<directory>/<name>` unless it already holds `value`.

  Returns:
    True if the file was (re)written.
  """
  path = os.path.join(directory, name)
  if read_json(path) == value:
    return False
  files.write_json_atomically(path, value)
  return True


def _field_types():
  """{field: accepted JSON types} of a TrainConfig record, from the fields'
  declared types (None is accepted for any)."""
  kinds = {
      bool: (bool,),
      int: (int,),
      float: (int, float),
      str: (str,),
      tuple: (list,)
  }
  out = {"data": (dict,), "use_mentornet": (bool,), "use_mentormix": (bool,)}
  for _, field in settings.leaf_fields(config_lib.TrainConfig):
    declared = [
        t for t in getattr(field.type, "__args__", (field.type,))
        if t is not type(None)
    ]
    out[settings.flat_name(field)] = kinds.get(declared[0], (object,))
  return out


def _binding_fields(record):
  """The fields of a record that a resume may not change (hand edits of the
  others are harmless; paths are compared as paths by `check_log_dir`)."""
  runtime = set(config_lib.RUNTIME_FIELDS)
  if record.get("use_mentornet"):
    runtime.discard("max_number_of_steps")
  return [
      k for k in record if k not in runtime and k not in config_lib.PATH_FIELDS
  ]


def _check_record(record, source, field_types):
  """Raises ValueError in one line for a run record that is not a JSON object
  of the run's fields with values of their types."""
  if not isinstance(record, dict):
    raise errors.BadInput(
        f"{source} holds a {type(record).__name__}, not a run's "
        "configuration (a JSON object); remove it to start the "
        "run's configuration afresh")
  for key, kinds in field_types.items():
    if key in record and record[key] is not None and not (
        isinstance(record[key], kinds) and
        not (isinstance(record[key], bool) and bool not in kinds)):
      raise errors.BadInput(
          f"{source}: field {key} is {record[key]!r}, not of type "
          f"{' or '.join(k.__name__ for k in kinds)}; remove the file to "
          "start the run's configuration afresh")


def saved_record(directory, binding=True):
  """(the run's record, where it was read), or (None, None).

  The record is `train_config.json`, checked against the newest checkpoint's
  own copy: where they differ in a `binding_fields` value (a hand edit), the
  checkpoint's wins, with a warning. With `train_config.json` gone, the
  newest checkpoint's copy is the record. A directory with no checkpoint has
  no run to bind to: a record left by a run that never saved one is ignored.

  Args:
    directory: a StudentNet run's directory.
    binding: False to read the record of a run that saved no checkpoint yet
      as well (an evaluation job started beside its trainer).

  Raises:
    ValueError: one line for a record that is not valid JSON, not an object,
      or holds a field of the wrong type.
  """
  found = [f for f in checkpoints.on_disk(directory, CHECKPOINT_NAME)]
  path = os.path.join(directory, CONFIG_FILE)
  saved = read_json(path)
  if saved is not None:
    _check_record(saved, path, _field_types())
  if not found:
    if not binding:
      return (saved, path) if saved is not None else (None, None)
    if saved is not None:
      logging.warning(
          "%s records a run that saved no checkpoint; it binds "
          "nothing and is replaced", path)
    return None, None
  stored, prefix = _newest_stored_record(found)
  if stored is None:
    if saved is None and prefix:
      logging.warning(
          "%s holds checkpoints of an older version but no %s; "
          "adopting this run's flags", directory, CONFIG_FILE)
    return (saved, path) if saved is not None else (None, None)
  if saved is None:
    return stored, f"{prefix} (its {CONFIG_FILE} is gone)"
  edited = [
      f"{k}: {saved.get(k)!r} in the file, {stored.get(k)!r} in the "
      "checkpoint"
      for k in _binding_fields(stored)
      if saved.get(k) != stored.get(k)
  ]
  if edited:
    logging.warning(
        "%s differs from the record in %s (%s); the "
        "checkpoint's record is the run's", path, prefix, "; ".join(edited))
    return stored, prefix
  return saved, path


def _newest_stored_record(found):
  """(the record in the newest complete checkpoint that reads, its prefix);
  (None, prefix) when that checkpoint is of a version that kept none;
  (None, None) when no checkpoint reads (the restore says why)."""
  for entry in found:
    if not entry.complete:
      continue
    try:
      text = checkpoints.stored_config(entry.prefix)
    except Exception:  # pylint: disable=broad-except
      continue
    if text is None:
      return None, entry.prefix
    stored = json.loads(text)
    _check_record(stored, entry.prefix, _field_types())
    return stored, entry.prefix
  return None, None


class FileLock:
  """An exclusive advisory lock on the file `path`.

  The file records the holder's host and pid for the error message. The lock
  itself is the `flock`, which the kernel drops when the process exits in any
  way, kill -9 included.
  """

  def __init__(self, path, holder="trainer", guards=None):
    self.path = path
    self._holder, self._guards = holder, guards or os.path.dirname(path)
    self._fd = None

  def acquire(self, attempts=10, pause=0.2):
    """Takes the lock, or raises DirectoryInUse naming the holder.

    Retries briefly: an evaluation job may hold a shared lock for a moment
    while it checks whether the trainer is alive.
    """
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    for attempt in range(attempts):
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        break
      except OSError as e:
        if e.errno not in (errno.EAGAIN, errno.EACCES):
          os.close(fd)
          raise
        if attempt == attempts - 1:
          holder = os.read(fd, 200).decode(errors="replace").strip()
          os.close(fd)
          raise DirectoryInUse(
              f"{self._guards or '.'} is in use by another "
              f"{self._holder} ({holder or 'unknown process'}); wait for it "
              "to finish or stop it first") from None
        time.sleep(pause)
    os.ftruncate(fd, 0)
    os.write(fd, f"host {os.uname().nodename} pid {os.getpid()}\n".encode())
    self._fd = fd
    return self

  def release(self):
    if self._fd is not None:
      fcntl.flock(self._fd, fcntl.LOCK_UN)
      os.close(self._fd)
      self._fd = None


class DirectoryLock(FileLock):
  """The trainer's lock on `<directory>/.trainer.lock` (see `FileLock`)."""

  def __init__(self, directory):
    super().__init__(os.path.join(directory, LOCK_FILE), "trainer", directory)


def csv_lock(csv_path):
  """The lock of the one evaluation job that appends to `csv_path`
  (`.<name>.lock` beside it)."""
  directory, name = os.path.split(csv_path)
  return FileLock(os.path.join(directory, f".{name}.lock"), "evaluation job",
                  csv_path)


def trainer_is_running(directory):
  """Whether a trainer holds `directory` (probes its lock without waiting)."""
  path = os.path.join(directory, LOCK_FILE)
  try:
    fd = os.open(path, os.O_RDONLY)
  except OSError:
    return False
  try:
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
  except OSError:
    return True
  finally:
    os.close(fd)  # closing drops a shared lock taken above
  return False


def remove_orphaned_saves(directory, checkpoint_name):
  """Deletes `<name>-N_temp*` left by a save that was killed.

  Only called by the lock holder, so no save of another process is running.

  Returns:
    The paths removed.
  """
  pattern = re.compile(re.escape(checkpoint_name) + r"-\d+_temp")
  removed = []
  for path in glob.glob(os.path.join(directory, checkpoint_name + "-*_temp*")):
    if pattern.match(os.path.basename(path)):
      if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
      else:
        with contextlib.suppress(OSError):
          os.remove(path)
      removed.append(path)
  return removed


class WorkerRole:
  """Which directory a worker writes to, and whether it is the chief.

  Single-machine strategies have one worker, the chief. Under
  `MultiWorkerMirroredStrategy` the chief is task `chief`, or `worker` 0 when
  the cluster has no chief; the others write checkpoints to
  `<train_log_dir>/.worker_<id>` (every worker must take part in a save) and
  no summaries, and remove that directory on exit.
  """

  def __init__(self, strategy, train_log_dir):
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    task_id = getattr(resolver, "task_id", None) or 0
    jobs = resolver.cluster_spec().as_dict() if resolver else {}
    self.is_chief = (task_type in (None, "chief") or
                     (task_type == "worker" and task_id == 0 and
                      "chief" not in jobs))
    self.name = "chief" if self.is_chief else f"{task_type} {task_id}"
    self.train_log_dir = train_log_dir
    self.write_dir = (train_log_dir if self.is_chief else os.path.join(
        train_log_dir, f".{task_type}_{task_id}"))

  def prepare(self):
    """Creates the write directory (a fresh one for a non-chief worker)."""
    if not self.is_chief and os.path.isdir(self.write_dir):
      shutil.rmtree(self.write_dir)
    os.makedirs(self.write_dir, exist_ok=True)

  def cleanup(self):
    """Removes a non-chief worker's throw-away directory."""
    if not self.is_chief:
      shutil.rmtree(self.write_dir, ignore_errors=True)

  def summary_writer(self):
    if self.is_chief:
      return tf.summary.create_file_writer(self.train_log_dir)
    return tf.summary.create_noop_writer()
