"""Evaluation beside training (SPEC §7): poll checkpoints, evaluate each once.

`run(config)` waits for checkpoints in `checkpoint_dir`, evaluates each on the
whole split (accuracy, mean loss), writes `eval/accuracy` and `eval/loss`
summaries to `eval_dir`, appends `step,accuracy,loss` rows to a CSV, and stops
after the checkpoint of the final step, after `timeout_secs` without a new
checkpoint, or after one checkpoint with `eval_once`. Checkpoints deleted by
the trainer's rotation while it runs are skipped.
"""

import dataclasses
import json
import os
import re

from absl import logging
import tensorflow as tf

from mentornet import inputs
from mentornet import students
from mentornet import train_lib

ARCHITECTURE_FIELDS = ("dataset_name", "studentnet", "num_residual_units",
                       "resnet_widths")


@dataclasses.dataclass
class EvalConfig:
  """Flags of cifar_eval.py."""
  checkpoint_dir: str
  data_dir: str
  eval_dir: str = ""
  dataset_name: str = "cifar10"
  studentnet: str = "resnet101"
  batch_size: int = 25
  split_name: str = "test"
  eval_interval_secs: float = 600
  output_csv_file: str = ""
  max_number_of_steps: int = 0  # 0: read it from the run's train_config.json
  timeout_secs: float = 0  # 0: wait forever
  eval_once: bool = False
  num_residual_units: int = 9
  resnet_widths: tuple = (160, 320, 640)


def adopt_training_config(config):
  """Takes architecture and final step from `train_config.json`, if present.

  The checkpoints can only be read by the network they were written by, so
  the run's own settings win over flags (with a warning when they differ).
  """
  path = os.path.join(config.checkpoint_dir, train_lib.CONFIG_FILE)
  if not os.path.exists(path):
    return config
  with open(path) as f:
    saved = json.load(f)
  changes = {}
  for field in ARCHITECTURE_FIELDS:
    value = saved[field]
    value = tuple(value) if field == "resnet_widths" else value
    if value != getattr(config, field):
      changes[field] = value
  if changes:
    logging.warning("using the training run's %s", changes)
  if not config.max_number_of_steps:
    changes["max_number_of_steps"] = saved["max_number_of_steps"]
  return dataclasses.replace(config, **changes)


def checkpoint_step(path):
  """The step a checkpoint was saved at, from its `-<step>` suffix."""
  match = re.search(r"-(\d+)$", path)
  return int(match.group(1)) if match else 0


class Evaluator:
  """Restores StudentNet checkpoints and evaluates them on a split."""

  def __init__(self, config):
    self.model = students.build_studentnet(
        config.studentnet, inputs.NUM_CLASSES[config.dataset_name],
        config.num_residual_units, tuple(config.resnet_widths))
    self.dataset = inputs.eval_dataset(config.data_dir, config.dataset_name,
                                       config.batch_size, config.split_name)

  @tf.function
  def _batch_metrics(self, images, labels):
    logits = self.model(images, training=False)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    correct = tf.equal(tf.argmax(logits, 1, output_type=tf.int64), labels)
    return tf.reduce_sum(tf.cast(correct, tf.float32)), tf.reduce_sum(loss)

  def restore(self, path):
    tf.train.Checkpoint(model=self.model).restore(path).expect_partial()

  def evaluate(self, path):
    """Returns (accuracy, mean loss) of the checkpoint at prefix `path`."""
    self.restore(path)
    correct = total_loss = count = 0.0
    for batch in self.dataset:
      c, l = self._batch_metrics(batch["image"], batch["label"])
      correct, total_loss = correct + float(c), total_loss + float(l)
      count += int(tf.shape(batch["label"])[0])
    return correct / count, total_loss / count


def _append_csv(path, step, accuracy, loss):
  new = not os.path.exists(path) or os.path.getsize(path) == 0
  with open(path, "a") as f:
    if new:
      f.write("step,accuracy,loss\n")
    f.write(f"{step},{accuracy:.6f},{loss:.6f}\n")


def _checkpoints(config):
  """Latest checkpoint once, or every new one as it appears."""
  if config.eval_once:
    latest = tf.train.latest_checkpoint(config.checkpoint_dir)
    if latest is None:
      raise FileNotFoundError(f"no checkpoint in {config.checkpoint_dir}")
    return [latest]
  return tf.train.checkpoints_iterator(
      config.checkpoint_dir, min_interval_secs=config.eval_interval_secs,
      timeout=config.timeout_secs or None)


def validate(config):
  """One-line errors for bad flags or inputs, before any work."""
  if not config.checkpoint_dir:
    raise ValueError("--checkpoint_dir is required")
  if config.batch_size <= 0:
    raise ValueError(f"--batch_size={config.batch_size} must be positive")
  if config.dataset_name not in inputs.NUM_CLASSES:
    raise ValueError(f"--dataset_name={config.dataset_name} is unknown; "
                     "choose cifar10 or cifar100")
  if config.studentnet not in students.STUDENTNETS:
    raise ValueError(f"--studentnet={config.studentnet} is unknown; choose "
                     "resnet101 or inception")
  inputs.record_files(config.data_dir, config.dataset_name, config.split_name)


def run(config):
  """Evaluates checkpoints as they appear; returns {step: (accuracy, loss)}."""
  config = adopt_training_config(config)
  validate(config)
  evaluator = Evaluator(config)
  eval_dir = config.eval_dir or os.path.join(config.checkpoint_dir, "eval")
  writer = tf.summary.create_file_writer(eval_dir)
  results = {}
  for path in _checkpoints(config):
    step = checkpoint_step(path)
    if step in results:
      continue
    try:
      accuracy, loss = evaluator.evaluate(path)
    except (tf.errors.NotFoundError, tf.errors.DataLossError, ValueError) as e:
      logging.warning("skipped checkpoint %s, gone or unreadable: %s", path,
                      str(e).splitlines()[0])
      continue
    results[step] = (accuracy, loss)
    logging.info("step %d: accuracy %.4f  loss %.4f  (%s)", step, accuracy,
                 loss, path)
    with writer.as_default(step=step):
      tf.summary.scalar("eval/accuracy", accuracy)
      tf.summary.scalar("eval/loss", loss)
    writer.flush()
    if config.output_csv_file:
      _append_csv(config.output_csv_file, step, accuracy, loss)
    if config.max_number_of_steps and step >= config.max_number_of_steps:
      break
  return results
