"""Evaluation beside training: watch checkpoints, evaluate each once, in order.

`run(config)` evaluates every checkpoint in `checkpoint_dir` that its CSV
does not hold yet, oldest first, then waits for new ones (`watch.py`: each
within seconds of its save, rounds `eval_interval_secs` apart): each on the whole
split (accuracy, mean loss), with `eval/accuracy` and `eval/loss` summaries in
`eval_dir` and a `step,accuracy,loss` row in the CSV (never two rows for one
step), drawn as curves in a PNG beside it (`plot.py`). It stops after the
checkpoint of the final step; after `timeout_secs` without a new checkpoint;
with an error when no trainer has held the run's directory for
`trainer_wait_secs` before the final step; after the latest checkpoint with
`eval_once`, or after every checkpoint on disk with
`eval_all`. A checkpoint deleted by the trainer's rotation before it was read
is skipped; any other failure (unreadable data, a checkpoint of another
network) stops the job with one line.

The per-example loss dump (`--mode=dump`) is `loss_dump.py`.
"""

import os

from absl import logging
import numpy as np
import tensorflow as tf

from mentornet import errors
from mentornet import config as config_lib
from mentornet.config import settings
from mentornet.data import datasets
from mentornet.data import inputs
from mentornet.data import shards
from mentornet.evaluation import output
from mentornet.evaluation import watch
from mentornet.models import students
from mentornet.runs import checkpoints
from mentornet.runs import run_dir
from mentornet.models import weight_average

EvalError = errors.EvalError
MODES = config_lib.EVAL_MODES


class Unreadable(Exception):
  """A checkpoint that cannot be scored (truncated, damaged, NaN or Inf);
  the job passes it over, as the trainer does."""


class Evaluator:
  """Restores StudentNet checkpoints and evaluates them on a split."""

  def __init__(self, config, files=None, select=None):
    config = config.with_split()
    self.model = students.build_for(config.model, config.dataset_name)
    # The averaged weights are scored when the run kept them (MentorMix's
    # evaluation restored its moving averages).
    self.average = (weight_average.WeightAverage(self.model.trainable_variables,
                                                 config.model.ema_decay)
                    if config.model.ema_decay else None)
    self.dataset = inputs.eval_dataset(
        config.data_dir,
        config.dataset_name,
        config.batch_size,
        config.split_name,
        files=files,
        select=select,
        preprocessing=students.get(config.model.studentnet).preprocessing)

  @tf.function
  def _batch_metrics(self, images, labels):
    logits = self.model(images, training=False)
    loss = students.example_loss(labels, logits)
    correct = tf.equal(tf.argmax(logits, 1, output_type=tf.int64), labels)
    return tf.reduce_sum(tf.cast(correct, tf.float32)), tf.reduce_sum(loss)

  def restore(self, path):
    """Restores the StudentNet of checkpoint prefix `path`.

    Raises:
      tf.errors.NotFoundError: the checkpoint is gone.
      EvalError: it is not a checkpoint of this StudentNet.
      Unreadable: its files are truncated or damaged, or it holds NaN or Inf.
    """
    try:
      status = tf.train.Checkpoint(model=self.model).restore(path)
      status.expect_partial()
      status.assert_existing_objects_matched()
      if self.average is not None:
        status = tf.train.Checkpoint(weight_average=self.average).restore(path)
        status.expect_partial()
        status.assert_existing_objects_matched()
        self.average.copy_to(self.model.trainable_variables)
    except tf.errors.NotFoundError:
      raise
    except (AssertionError, ValueError) as e:
      raise EvalError(
          f"checkpoint {path} is not a StudentNet checkpoint of this "
          f"configuration ({checkpoints.first_line(e)})") from None
    except Exception as e:  # pylint: disable=broad-except
      # A truncated or damaged file: IndexError, DataLossError, ...
      raise Unreadable(
          f"{type(e).__name__}: {checkpoints.first_line(e)}") from None
    if not all(np.all(np.isfinite(v.numpy())) for v in self.model.variables):
      raise Unreadable("it holds NaN or Inf values")

  @tf.function
  def logits(self, images):
    """The StudentNet's float32 logits, in inference mode."""
    return tf.cast(self.model(images, training=False), tf.float32)

  @tf.function
  def example_losses(self, images, labels):
    logits = self.model(images, training=False)
    return students.example_loss(labels, logits)

  def evaluate(self, path):
    """Returns (accuracy, mean loss) of the checkpoint at prefix `path`."""
    self.restore(path)
    correct = total_loss = count = 0.0
    for batch in self.dataset:
      c, l = self._batch_metrics(batch["image"], batch["label"])
      correct, total_loss = correct + float(c), total_loss + float(l)
      count += int(tf.shape(batch["label"])[0])
    return correct / count, total_loss / count


def validate(config):
  """One-line errors for bad flags or inputs, before any work."""
  if not config.checkpoint_dir:
    raise errors.BadInput("--checkpoint_dir is required")
  checkpoints.check_plain_path("checkpoint_dir", config.checkpoint_dir)
  if config.mode not in MODES:
    raise errors.BadInput(f"--mode={config.mode} is unknown; choose one of "
                          f"{', '.join(MODES)}")
  if config.mode == "dump":
    if not 0.0 < config.dump_fraction <= 1.0:
      raise errors.BadInput(
          f"--dump_fraction={config.dump_fraction} must lie in "
          "(0, 1]")
    if not config.dump_file:
      raise errors.BadInput("--mode=dump needs --dump_file")
    if os.path.exists(config.dump_file):
      raise errors.BadInput(
          f"--dump_file={config.dump_file} exists; remove it or "
          "choose another name")
    if not -1 <= config.dump_epoch <= 99:
      raise errors.BadInput(
          f"--dump_epoch={config.dump_epoch} must lie in [0, 99]"
          " (or -1: the checkpoint's progress epoch)")
  settings.check_ranges(config)  # --batch_size, the waits, ...
  for name in ("eval_interval_secs", "timeout_secs", "trainer_wait_secs"):
    value = getattr(config, name)
    if not value < float("inf"):
      raise errors.BadInput(f"--{name}={value} must be a finite number")
  if config.eval_once and config.eval_all:
    raise errors.BadInput("--eval_once and --eval_all exclude each other")
  datasets.get(config.dataset_name)
  students.get(config.model.studentnet)
  files = shards.record_files(config.data_dir, config.dataset_name,
                              config.split_name)
  shards.count_records(files, config.dataset_name)


def run(config):
  """Evaluates checkpoints as `__doc__` says; returns {step: (accuracy, loss)}.

  The network and the final step are read from the run's record when it
  appears, so the job may start before the trainer. One job at a time
  appends to an output CSV (a lock beside it). A checkpoint that cannot be
  scored (truncated, damaged, NaN) is passed over with one line.

  Raises:
    ValueError / FileNotFoundError: a bad flag or input (before any work).
    EvalError: a checkpoint of another network, unreadable data, a run whose
      trainer stopped before the final step, nothing to evaluate, another job
      writing the same CSV, or results that cannot be written.
  """
  config, adopted = watch.adopt_training_config(config.with_split())
  validate(config)
  lock = None
  if config.output_csv_file:
    try:
      lock = run_dir.csv_lock(config.output_csv_file).acquire(attempts=1)
    except run_dir.DirectoryInUse as e:
      raise EvalError(
          f"{e}: one evaluation job per --output_csv_file") from None
    except OSError as e:
      raise EvalError(f"cannot use --output_csv_file="
                      f"{config.output_csv_file}: {e}") from None
  try:
    return _evaluate_all(config, adopted)
  finally:
    if lock:
      lock.release()


def _evaluate_all(config, adopted):
  """The body of `run`, holding the CSV's lock."""
  eval_dir = config.eval_dir or os.path.join(config.checkpoint_dir, "eval")
  writer = evaluator = None
  dropped = output.repair_csv(config.output_csv_file)
  if dropped:
    logging.warning("dropped the last row of %s, cut short: %r",
                    config.output_csv_file, dropped)
  try:
    done = output.csv_steps(config.output_csv_file)
  except output.BadRow as e:
    raise EvalError(str(e)) from None
  seen = set(done)  # evaluated or passed over: never read again
  results, passed = {}, {}
  for path, config in watch.pending(config, adopted, seen):
    step = watch.checkpoint_step(path)
    seen.add(step)
    if evaluator is None:
      evaluator = Evaluator(config)
    try:
      accuracy, loss = evaluator.evaluate(path)
    except tf.errors.NotFoundError as e:
      if tf.io.gfile.exists(path + ".index"):
        passed[path] = checkpoints.first_line(e)
        logging.warning("passed over checkpoint %s: unreadable (%s)", path,
                        passed[path])
        continue
      logging.warning("skipped checkpoint %s: deleted before it was read", path)
      continue
    except Unreadable as e:
      passed[path] = str(e)
      logging.warning("passed over checkpoint %s: %s; it is not scored", path,
                      e)
      continue
    except tf.errors.OpError as e:
      raise EvalError(f"evaluating {path} on {config.data_dir} failed: "
                      f"{e.message.splitlines()[0]}") from None
    results[step] = (accuracy, loss)
    logging.info("step %d: accuracy %.4f  loss %.4f  (%s)", step, accuracy,
                 loss, path)
    if step in done:  # --eval_once of a step the CSV already holds
      logging.info("step %d is already in %s; not written again", step,
                   config.output_csv_file)
      continue
    done.add(step)
    try:
      writer = output.write_result(config, eval_dir, writer, step, accuracy,
                                   loss)
    except output.WriteError as e:
      raise EvalError(str(e)) from None
  if not results and passed:
    newest = max(passed, key=watch.checkpoint_step)
    raise EvalError(f"nothing was evaluated: passed over {len(passed)} "
                    f"checkpoint(s), the newest {newest} ({passed[newest]})")
  return results
