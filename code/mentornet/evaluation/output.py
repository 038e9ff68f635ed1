"""What the evaluation job writes: CSV rows, summaries, the picture.

A CSV row is appended whole and synced; a row cut short by a kill is
dropped before the next one (`repair_csv`), so the file always parses.
`write_result` writes a step's summaries, then its row, then redraws the
picture, and a failure says which of them hold the step.
"""

import os

from absl import logging
import tensorflow as tf

from mentornet.evaluation import plot
from mentornet.runs import checkpoints


class WriteError(RuntimeError):
  """A result could not be written; the message says what holds it."""


class BadRow(ValueError):
  """A CSV line that is not a row `step,accuracy,loss`."""


def append_csv(path, step, accuracy, loss):
  """Appends one whole row (and the header to a new file), synced."""
  new = not os.path.exists(path) or os.path.getsize(path) == 0
  with open(path, "a") as f:
    if new:
      f.write("step,accuracy,loss\n")
    f.write(f"{step},{accuracy:.6f},{loss:.6f}\n")
    f.flush()
    os.fsync(f.fileno())


def repair_csv(path):
  """Drops a last row cut short (a kill mid-write), so that the next row is
  never glued to it.

  Returns:
    The fragment dropped, or "" when the file ends with a whole row.
  """
  if not path or not os.path.exists(path) or os.path.getsize(path) == 0:
    return ""
  with open(path, "rb+") as f:
    data = f.read()
    if data.endswith(b"\n"):
      return ""
    keep = data.rfind(b"\n") + 1
    f.truncate(keep)
    f.flush()
    os.fsync(f.fileno())
  return data[keep:].decode(errors="replace")


def csv_steps(path):
  """The steps already in an evaluation CSV (empty if there is none)."""
  if not path or not os.path.exists(path):
    return set()
  steps = set()
  with open(path) as f:
    for number, line in enumerate(f, 1):
      field = line.split(",", 1)[0].strip()
      if number == 1 and field == "step" or not field:
        continue
      try:
        steps.add(int(field))
      except ValueError:
        raise BadRow(f"{path}:{number}: '{line.strip()}' is not a row "
                     "'step,accuracy,loss'") from None
  return steps


def write_result(config, eval_dir, writer, step, accuracy, loss):
  """Summaries, then the CSV row, then the picture; a failure says which of
  them hold the step. Returns the summary writer."""
  try:
    if writer is None:  # only once a checkpoint proved to be ours
      writer = tf.summary.create_file_writer(eval_dir)
    with writer.as_default(step=step):
      tf.summary.scalar("eval/accuracy", accuracy)
      tf.summary.scalar("eval/loss", loss)
    writer.flush()
  except (OSError, tf.errors.OpError) as e:
    raise WriteError(
        f"could not write the summaries of step {step} to {eval_dir} "
        f"({checkpoints.first_line(e)}); step {step} is not in "
        f"{config.output_csv_file or 'any CSV'} either") from None
  if not config.output_csv_file:
    return writer
  try:
    append_csv(config.output_csv_file, step, accuracy, loss)
  except OSError as e:
    raise WriteError(
        f"could not append step {step} to {config.output_csv_file} "
        f"({checkpoints.first_line(e)}); its summaries are in {eval_dir}"
    ) from None
  try:
    plot.draw_csv(config.output_csv_file)
  except (OSError, RuntimeError, ValueError) as e:
    logging.warning(
        "step %d is in %s and %s, but its picture was not drawn"
        " (%s)", step, config.output_csv_file, eval_dir,
        checkpoints.first_line(e))
  return writer
