"""Everything checked before a training run does any work.

`validate` checks the flags and lists the inputs; `check_log_dir` compares
the run's record (configuration and data fingerprint) with the one saved in
`train_log_dir`, or in its newest checkpoint when `train_config.json` is
gone. Every refusal is one line naming the flag, the value and what is
allowed.
"""

import collections
import dataclasses
import json
import os

from absl import logging

from mentornet import config as config_lib
from mentornet.curriculum import arithmetic
from mentornet.data import datasets
from mentornet.data import shards
from mentornet.models import mentor
from mentornet.models import students
from mentornet.training import checkpoints
from mentornet.training import run_dir

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")

Checked = collections.namedtuple(
    "Checked", ["files", "dropout_rates", "mentornet_checkpoint"])


def validate(config):
  """Checks every flag and input before any work; raises ValueError or
  FileNotFoundError with one line naming the flag, its value and what is
  allowed. Each value is parsed here, once.

  Returns:
    `Checked(files, dropout_rates, mentornet_checkpoint)`: the training
    record files, and for a MentorNet run the 100 per-epoch drop-out rates
    and the MentorNet's checkpoint prefix (else None, None).
  """
  if not config.train_log_dir:
    raise ValueError("--train_log_dir is required")
  datasets.get(config.dataset_name)
  students.get(config.studentnet)
  if config.distribution_strategy not in STRATEGIES:
    raise ValueError(
        f"--distribution_strategy={config.distribution_strategy} is unknown;"
        f" choose one of {', '.join(STRATEGIES)}")
  config.check()
  rates = prefix = None
  if config.use_mentornet:
    try:
      rates = arithmetic.parse_dropout_rate_list(config.example_dropout_rates)
    except ValueError as e:
      raise ValueError(f"--{e}") from None
    if config.curriculum == config_lib.CURRICULUM_MENTORNET:
      prefix = mentor.resolve_checkpoint(config.trained_mentornet_dir)
  files = shards.record_files(config.data_dir, config.dataset_name, "train")
  return Checked(files, rates, prefix)


def _same_path(a, b):
  return (os.path.normpath(str(a)) == os.path.normpath(str(b)) or
          os.path.realpath(str(a)) == os.path.realpath(str(b)))


def run_record(config, fingerprint):
  """What `train_config.json` (and every checkpoint) holds of a run: its
  configuration and the fingerprint of its training data."""
  return {**config.to_json_dict(), "data": fingerprint}


def _saved_record(train_log_dir):
  """(the run's saved record, where it was read) or (None, None).

  From `train_config.json`; when that is gone, from the newest checkpoint
  that holds one, so that a deleted file cannot let other flags adopt the
  run.
  """
  path = os.path.join(train_log_dir, run_dir.CONFIG_FILE)
  saved = run_dir.read_json(path)
  if saved is not None:
    return saved, path
  for found in checkpoints.on_disk(train_log_dir, run_dir.CHECKPOINT_NAME):
    if not found.complete:
      continue
    try:
      text = checkpoints.stored_config(found.prefix)
    except Exception:  # pylint: disable=broad-except
      continue  # unreadable: the restore will pass over it and say why
    if text is not None:
      return json.loads(text), (f"{found.prefix} (its {run_dir.CONFIG_FILE} "
                                "is gone)")
    logging.warning("%s holds checkpoints of an older version but no %s; "
                    "adopting this run's flags", train_log_dir,
                    run_dir.CONFIG_FILE)
    return None, None
  return None, None


def _default(name):
  """The TrainConfig default of field `name`."""
  return next(f.default for f in dataclasses.fields(config_lib.TrainConfig)
              if f.name == name)


def check_log_dir(config, fingerprint):
  """Refuses a train_log_dir that holds a run with another configuration or
  other training data.

  The directory's own path is not part of the configuration (a run may be
  reached by another spelling or moved); `data_dir` and the MentorNet are
  compared as paths, the data also by their fingerprint. A MentorNet run may
  not change `max_number_of_steps`: it defines the progress epoch, and with
  it burn-in, drop-out schedule and MentorNet's input.
  """
  saved, source = _saved_record(config.train_log_dir)
  if saved is None:
    return
  ours = config.to_json_dict()
  runtime = set(config_lib.RUNTIME_FIELDS)
  if config.use_mentornet:
    runtime.discard("max_number_of_steps")
  differing = []
  for key in ours:
    if (key in runtime or key in config_lib.LOCATION_FIELDS or
        saved.get(key) == ours[key]):
      continue
    if key in config_lib.NEW_FIELDS and key not in saved and (
        key in ("regularization", "schedule") or
        ours[key] == _default(key)):
      continue  # a run of an older version ran as this one does
    if (key in config_lib.PATH_FIELDS and saved.get(key) and ours[key] and
        _same_path(saved[key], ours[key])):
      continue
    differing.append(f"{key}: {saved.get(key)!r} there, {ours[key]!r} here")
  if differing and not (config.use_mentornet and len(differing) == 1 and
                        differing[0].startswith("max_number_of_steps")):
    raise ValueError(f"--train_log_dir={config.train_log_dir} holds a run with"
                     f" another configuration ({'; '.join(differing)}), as "
                     f"{source} says; use another directory or the same "
                     "flags")
  if differing:
    raise ValueError(
        f"--max_number_of_steps={config.max_number_of_steps} differs from the"
        f" run in {config.train_log_dir} ({saved['max_number_of_steps']}): a "
        "MentorNet run's total steps define its progress epoch (burn-in, "
        "drop-out schedule, MentorNet's input), so it cannot be extended; "
        "start a new run in another directory")
  change = shards.fingerprint_change(saved.get("data") or fingerprint,
                                     fingerprint)
  if change:
    raise ValueError(
        f"--data_dir={config.data_dir} holds other training data than the run"
        f" in {config.train_log_dir} ({change}); resume on the run's own data"
        " or start a new run in another directory")
