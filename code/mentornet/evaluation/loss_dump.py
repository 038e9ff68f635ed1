"""The per-example loss dump: its row format, written and read in one place.

A dump holds one row `id epoch noisy_label clean_label loss` per example of
a seeded subset of the training data (the "small clean subset" the
data-driven MentorNet learns from; the original never released the code that
made it). `dump_losses` writes one for the latest checkpoint of a run;
`read_loss_dump` reads it back (also comma-separated files with a header).
"""

from absl import logging
import numpy as np

from mentornet import errors
from mentornet import files
from mentornet.curriculum import arithmetic
from mentornet.data import shards
from mentornet.evaluation import evaluate
from mentornet.evaluation import watch

FIELDS = ("id", "epoch", "noisy_label", "clean_label", "loss")


def format_row(example_id, epoch, noisy_label, clean_label, loss):
  """One dump row: `id epoch noisy_label clean_label loss` (5 decimals)."""
  return f"{example_id} {epoch} {noisy_label} {clean_label} {loss:.5f}\n"


def run(config):
  """`--mode=dump`: checks the flags, then `dump_losses`.

  Returns:
    The number of rows written.
  """
  config, _ = watch.adopt_training_config(config.with_split())
  evaluate.validate(config)
  return dump_losses(config)


def select_subset(num_examples, fraction, seed):
  """A seeded boolean mask keeping `round(fraction * num_examples)` records."""
  keep = max(1, round(fraction * num_examples))
  mask = np.zeros(num_examples, bool)
  rng = np.random.default_rng(seed)
  mask[rng.choice(num_examples, keep, replace=False)] = True
  return mask


def dump_losses(config):
  """Writes `id epoch noisy_label clean_label loss` for a seeded subset.

  Uses the latest checkpoint in `checkpoint_dir`, evaluation preprocessing
  and inference mode. The epoch column is `dump_epoch`, or the checkpoint's
  progress epoch, in the training curriculum's own arithmetic
  (`curriculum.progress_epoch`).

  Returns:
    The number of lines written.
  """
  path = watch.latest_checkpoint(config.checkpoint_dir)
  records = shards.record_files(config.data_dir, config.dataset_name,
                                config.split_name)
  select = select_subset(shards.count_records(records, config.dataset_name),
                         config.dump_fraction, config.dump_seed)
  epoch = config.dump_epoch
  if epoch < 0:
    step = watch.checkpoint_step(path)
    epoch = arithmetic.progress_epoch(
        step, config.max_number_of_steps or max(step, 1))
  evaluator = evaluate.Evaluator(config, files=records, select=select)
  evaluator.restore(path)
  lines = []
  for batch in evaluator.dataset:
    losses = evaluator.example_losses(batch["image"], batch["label"]).numpy()
    for i, n, c, l in zip(batch["id"].numpy(), batch["label"].numpy(),
                          batch["clean_label"].numpy(), losses):
      lines.append(format_row(i, epoch, n, c, l))
  if any(line.split()[3] == "-1" for line in lines):
    logging.warning("the records have no clean labels: the dump cannot train"
                    " a data-driven MentorNet")
  with files.atomic_file(config.dump_file) as f:
    f.writelines(lines)
  logging.info("wrote %d lines (epoch %d, checkpoint %s) to %s", len(lines),
               epoch, path, config.dump_file)
  return len(lines)


def read_loss_dump(path):
  """Reads a per-example loss dump: rows `id epoch noisy_label clean_label loss`.

  Space-separated (the original's format) or comma-separated, with or without
  a header line.

  Returns:
    float64 array [N, 5].

  Raises:
    ValueError: naming the file and line of a malformed row.
  """
  rows = []
  with open(path) as f:
    for number, line in enumerate(f, 1):
      fields = [
          x for x in (line.split(",") if "," in line else line.split())
          if x.strip()
      ]
      if not fields:
        continue
      try:
        values = [float(x) for x in fields]
      except ValueError:
        if number == 1 and not rows:  # a header
          continue
        raise errors.BadInput(
            f"{path}:{number}: non-numeric field in '{line.strip()}'; expected"
            f" '{' '.join(FIELDS)}'") from None
      if len(values) != 5:
        raise errors.BadInput(
            f"{path}:{number}: expected 5 fields 'id epoch noisy_label "
            f"clean_label loss', got {len(values)}")
      if not all(np.isfinite(values)):
        raise errors.BadInput(f"{path}:{number}: '{line.strip()}' holds NaN or "
                              "Inf; every value must be finite (was the "
                              "StudentNet that made the dump diverging?)")
      rows.append(values)
  if not rows:
    raise errors.BadInput(
        f"{path}: no rows 'id epoch noisy_label clean_label loss'")
  return np.asarray(rows)
