"""Everything checked before a training run does any work.

`validate` checks the flags and lists the inputs; `check_log_dir` compares
the run's record (configuration and data fingerprint) with the one saved in
`train_log_dir`, or in its newest checkpoint when `train_config.json` is
gone. Every refusal is one line naming the flag, the value and what is
allowed.
"""

import collections
import os

from absl import logging

from mentornet import errors
from mentornet import config as config_lib
from mentornet.curriculum import arithmetic
from mentornet.data import datasets
from mentornet.data import shards
from mentornet.models import mentor
from mentornet.models import students
from mentornet.runs import checkpoints
from mentornet.runs import run_dir

Checked = collections.namedtuple(
    "Checked",
    ["files", "dropout_rates", "mentornet_checkpoint", "mentornet_values"])


def validate(config):
  """Checks every flag and input before any work; raises ValueError or
  FileNotFoundError with one line naming the flag, its value and what is
  allowed. Each value is parsed here, once.

  Returns:
    `Checked(files, dropout_rates, mentornet_checkpoint, mentornet_values)`:
    the training record files, and for a MentorNet run the 100 per-epoch
    drop-out rates, the MentorNet's checkpoint prefix and its values, read
    whole and checked finite (else None).
  """
  if not config.run.train_log_dir:
    raise errors.BadInput("--train_log_dir is required")
  checkpoints.check_plain_path("train_log_dir", config.run.train_log_dir)
  datasets.get(config.data.dataset_name)
  students.get(config.model.studentnet)
  config.check()
  rates = prefix = values = None
  if config.weighs_examples:
    try:
      rates = arithmetic.parse_dropout_rate_list(
          config.curriculum.example_dropout_rates)
    except ValueError as e:
      raise errors.BadInput(f"--{e}") from None
    if config.curriculum.kind == config_lib.CURRICULUM_MENTORNET:
      prefix = mentor.resolve_checkpoint(
          config.curriculum.trained_mentornet_dir)
      values = _read_mentornet(config.curriculum.trained_mentornet_dir, prefix)
  files = shards.record_files(config.data.data_dir, config.data.dataset_name,
                              "train")
  return Checked(files, rates, prefix, values)


def _read_mentornet(flag_value, prefix):
  """The MentorNet's values at `prefix`, read whole and finite, or one line
  naming the flag and what is wrong (a truncated or corrupt file, NaN, a
  checkpoint that holds no MentorNet)."""
  try:
    return mentor.checked_values(prefix)
  except (ValueError, FileNotFoundError) as e:
    raise errors.BadInput(f"--trained_mentornet_dir={flag_value}: "
                          f"{checkpoints.first_line(e)}") from None
  except Exception as e:  # pylint: disable=broad-except
    # A truncated or damaged file shows as IndexError, DataLossError, ...
    raise errors.BadInput(
        f"--trained_mentornet_dir={flag_value}: {prefix} is unreadable "
        f"({type(e).__name__}: {checkpoints.first_line(e)}); give an intact MentorNet "
        "checkpoint") from None


def _same_path(a, b):
  return (os.path.normpath(str(a)) == os.path.normpath(str(b)) or
          os.path.realpath(str(a)) == os.path.realpath(str(b)))


def run_record(config, fingerprint):
  """What `train_config.json` (and every checkpoint) holds of a run: its
  configuration and the fingerprint of its training data."""
  return {**config.to_json_dict(), "data": fingerprint}


def check_log_dir(config, fingerprint):
  """Refuses a train_log_dir that holds a run with another configuration or
  other training data.

  The directory's own path is not part of the configuration (a run may be
  reached by another spelling or moved); `data_dir` and the MentorNet are
  compared as paths, the data also by their fingerprint. A MentorNet run may
  not change `max_number_of_steps`: it defines the progress epoch, and with
  it burn-in, drop-out schedule and MentorNet's input.
  """
  _refuse_a_mentornet_directory(config.run.train_log_dir)
  saved, source = run_dir.saved_record(config.run.train_log_dir)
  if saved is None:
    return
  ours = config.to_json_dict()
  runtime = set(config_lib.RUNTIME_FIELDS)
  if config.weighs_examples:
    runtime.discard("max_number_of_steps")
  same_data = not shards.fingerprint_change(
      saved.get("data") or {}, fingerprint)
  differing = []
  for key in ours:
    if (key in runtime or key in config_lib.LOCATION_FIELDS or
        saved.get(key) == ours[key]):
      continue
    if key in config_lib.NEW_FIELDS and key not in saved and (
        key in ("regularization", "schedule") or
        ours[key] == config_lib.default_of(key)):
      continue  # a run of an older version ran as this one does
    if (key in config_lib.PATH_FIELDS and saved.get(key) and ours[key] and
        _same_path(saved[key], ours[key])):
      continue
    if key == "data_dir" and saved.get("data") and same_data:
      logging.info(
          "the run's data moved from %s to %s (the same records, by"
          " their fingerprint)", saved.get(key), ours[key])
      continue
    differing.append(f"{key}: {saved.get(key)!r} there, {ours[key]!r} here")
  if differing and not (config.weighs_examples and len(differing) == 1 and
                        differing[0].startswith("max_number_of_steps")):
    raise errors.BadInput(
        f"--train_log_dir={config.run.train_log_dir} holds a run with"
        f" another configuration ({'; '.join(differing)}), as "
        f"{source} says; use another directory or the same "
        "flags")
  if differing:
    raise errors.BadInput(
        f"--max_number_of_steps={config.optimization.max_number_of_steps} differs from the"
        f" run in {config.run.train_log_dir} ({saved['max_number_of_steps']}): a "
        "MentorNet run's total steps define its progress epoch (burn-in, "
        "drop-out schedule, MentorNet's input), so it cannot be extended; "
        "start a new run in another directory")
  change = shards.fingerprint_change(
      saved.get("data") or fingerprint, fingerprint)
  if change:
    raise errors.BadInput(
        f"--data_dir={config.data.data_dir} holds other training data than the run"
        f" in {config.run.train_log_dir} ({change}); resume on the run's own data"
        " or start a new run in another directory")


def _refuse_a_mentornet_directory(train_log_dir):
  """A StudentNet run never trains in a MentorNet's directory (it would
  take over its `checkpoint` state file)."""
  if not os.path.isdir(train_log_dir):
    return
  names = os.listdir(train_log_dir)
  mentornets = sorted(n[:-len(".index")]
                      for n in names
                      if n.startswith("mentornet") and n.endswith(".index"))
  if mentornets or "mentornet_config.json" in names:
    raise errors.BadInput(
        f"--train_log_dir={train_log_dir} holds a MentorNet ("
        f"{mentornets[-1] if mentornets else 'mentornet_config.json'}); a "
        "StudentNet run needs a directory of its own")
