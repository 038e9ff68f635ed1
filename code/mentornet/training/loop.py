"""The scripts' training loop: `run(config)` trains a StudentNet and resumes.

As the original `cifar_train_baseline.py` and `cifar_train_mentornet.py`:
per-example softmax cross-entropy weighted by the run's curriculum (every
weight 1 for the baseline), the StudentNet's optimizer, schedule and weight
decay, TensorBoard summaries, a progress line, checkpoints that resume the
very same run, and clean stops (NaN, SIGTERM, a failed save). The step itself
is `step.train_step`, which `model.fit` runs too; this loop adds what a long
run on a cluster needs: time-based saves, the stop and save requests that
travel with the step's all-reduce, and the directory's safety.
"""

import json
import math
import os
import signal
import time

from absl import logging
import keras
import tensorflow as tf

from mentornet.curriculum import evidence
from mentornet.curriculum import objective as objective_lib
from mentornet import config as config_lib
from mentornet.data import inputs
from mentornet.data import shards
from mentornet.models import students
from mentornet.training import build
from mentornet.training import distributed
from mentornet.training import reporting
from mentornet.runs import checkpoints
from mentornet.runs import run_dir
from mentornet.runs import safety
from mentornet.training import validate as validate_lib

MAX_CHECKPOINTS = 10
CONTROL_METRICS = reporting.CONTROL_METRICS
TrainingError, Interrupted = safety.TrainingError, safety.Interrupted
build_step = distributed.build_step


def _setup_directory(config, role, record):
  """Takes the lock, cleans up a killed save, writes the run's record.

  Returns:
    The held `run_dir.DirectoryLock` (None on a non-chief worker).

  Raises:
    TrainingError: the directory cannot be created, locked or written (a
      read-only or full disk), in one line; nothing was changed.
  """
  try:
    role.prepare()
    if not role.is_chief:
      return None
    lock = run_dir.DirectoryLock(config.run.train_log_dir).acquire()
  except OSError as e:
    raise safety.TrainingError(
        f"cannot use --train_log_dir={config.run.train_log_dir}: {e}") from None
  try:
    for path in run_dir.remove_orphaned_saves(config.run.train_log_dir,
                                              run_dir.CHECKPOINT_NAME):
      logging.warning("removed %s, left by a save that was interrupted", path)
    run_dir.save_config(config.run.train_log_dir, record)
  except OSError as e:
    lock.release()
    raise safety.TrainingError(
        f"could not write {run_dir.CONFIG_FILE} in {config.run.train_log_dir} "
        f"({e}); nothing was changed and the run stays resumable") from None
  except BaseException:
    lock.release()
    raise
  return lock


def run(config):
  """Trains a StudentNet as configured; resumes from `train_log_dir`.

  The distribution strategy is created first, before any TensorFlow op
  (multi-worker collectives must be configured at program start).

  Returns:
    The metrics of the last step, as Python floats.

  Raises:
    ValueError / FileNotFoundError: a bad flag or input (before any work).
    run_dir.DirectoryInUse: another trainer holds `train_log_dir`.
    TrainingError: a NaN or Inf loss or state, or a failed save (the last
      good checkpoint is kept and named).
    Interrupted: SIGTERM or SIGINT; a checkpoint of the step reached was
      saved first.
  """
  config = build.with_rules(config)
  checked = validate_lib.validate(config)
  strategy = build.make_strategy(config.run.distribution_strategy)
  role = run_dir.WorkerRole(strategy, config.run.train_log_dir)
  num_examples = shards.count_records(checked.files, config.data.dataset_name)
  record = validate_lib.run_record(
      config, shards.data_fingerprint(checked.files, num_examples))
  validate_lib.check_log_dir(config, record["data"])
  lock = _setup_directory(config, role, record)
  try:
    with safety.StopSignals() as signals:
      return _train(config, strategy, role, checked, record, signals)
  except BaseException:
    if lock:
      _forget_unsaved_run(config.run.train_log_dir)
    raise
  finally:
    role.cleanup()
    if lock:
      lock.release()


def _forget_unsaved_run(train_log_dir):
  """Removes the record of a run that stopped before its first checkpoint:
  it binds nothing, and a corrected command starts afresh."""
  if checkpoints.on_disk(train_log_dir, run_dir.CHECKPOINT_NAME):
    return
  path = os.path.join(train_log_dir, run_dir.CONFIG_FILE)
  try:
    os.remove(path)
    logging.info("removed %s: the run saved no checkpoint", path)
  except OSError:
    pass


def _train(config, strategy, role, checked, record, signals):
  """The training loop of `run`, inside the directory lock: set up, restore,
  then one step after another with their duties (`_Loop`)."""
  parts = _build_parts(config, strategy, checked, record["data"]["records"])
  loop = _Loop(config, strategy, role, parts, record, signals)
  if loop.step >= config.optimization.max_number_of_steps:
    logging.info("already at step %d of %d", loop.step,
                 config.optimization.max_number_of_steps)
    return {}
  return loop.run(_batches(config, strategy, checked, loop.step))


def _build_parts(config, strategy, checked, num_examples):
  """Model, schedule, optimizer and curricula (and the weight average) in the
  strategy's scope: {name: object}, the checkpoint's parts and `schedule`."""
  keras.utils.set_random_seed(config.run.seed)
  with strategy.scope():
    model, schedule, optimizer, curriculum = build.build_training(
        config, num_examples, checked)
    mixed = (build.make_mixed_curriculum(config, checked)
             if config.method == config_lib.MENTORMIX else None)
    average = build.make_weight_average(config, model)
    label_evidence = evidence.LabelEvidence(num_examples)
  # Everything a resumed run needs to continue exactly as the uninterrupted
  # one: the generators of Keras' dropout layers too.
  parts = {
      "model": model,
      "optimizer": optimizer,
      "curriculum": curriculum,
      "seed_generators": checkpoints.rng_states(model),
      "mixed_curriculum": mixed,
      "weight_average": average,
      "label_evidence": label_evidence
  }
  return dict({
      k: v for k, v in parts.items() if v is not None
  },
              schedule=schedule)


def _batches(config, strategy, checked, step):
  """The distributed training stream, continued at the example where `step`
  left off."""
  examples = inputs.load_examples(checked.files, config.data.dataset_name)
  student = students.get(config.model.studentnet)
  dataset = inputs.train_dataset(config.data.data_dir,
                                 config.data.dataset_name,
                                 student.pad,
                                 config.data.batch_size,
                                 seed=config.run.seed,
                                 examples=examples,
                                 start=step * config.data.batch_size,
                                 preprocessing=student.preprocessing)
  if config.run.distribution_strategy == "multi_worker_mirrored":
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    dataset = dataset.with_options(options)
  return (iter(strategy.experimental_distribute_dataset(dataset)),
          inputs.has_clean_labels(examples))


def _note_evidence_start(latest, label_evidence, step):
  """A checkpoint of an older version has no label evidence: the sums start
  at the step resumed from, and say so."""
  if step and not checkpoints.has_part(latest, "label_evidence"):
    label_evidence.start_step.assign(step)
    logging.info(
        "%s holds no label evidence (an older version's checkpoint): the "
        "per-example sums start at step %d", latest, step)


class _Loop:
  """The restored run and its per-step duties."""

  def __init__(self, config, strategy, role, parts, record, signals):
    self.config, self.role, self.signals = config, role, signals
    self.schedule = parts.pop("schedule")
    self.parts = parts
    checkpoint = tf.train.Checkpoint(**parts,
                                     run_config=tf.Variable(
                                         json.dumps(record, sort_keys=True)))
    all_finite = safety.finite_check([
        v for name in ("model", "optimizer", "curriculum", "mixed_curriculum",
                       "weight_average") if name in parts
        for v in parts[name].variables
    ])
    latest = checkpoints.resume(role.train_log_dir,
                                run_dir.CHECKPOINT_NAME,
                                parts,
                                all_finite,
                                may_write=role.is_chief)
    if latest:
      logging.info("resumed from %s", latest)
      _note_evidence_start(latest, parts["label_evidence"],
                           int(parts["optimizer"].iterations.value.numpy()))
    self.saver = safety.Saver(
        tf.train.CheckpointManager(checkpoint,
                                   role.write_dir,
                                   max_to_keep=MAX_CHECKPOINTS,
                                   checkpoint_name=run_dir.CHECKPOINT_NAME),
        all_finite, latest)
    self.step = int(parts["optimizer"].iterations.value.numpy())
    self.strategy, self.num_examples = strategy, record["data"]["records"]
    self.train_step = None  # built once the stream exists, as it always was
    self.writer = None
    self.summary_due = safety.Every(config.run.save_summaries_secs)
    self.save_due = safety.Every(config.run.save_interval_secs)
    self.save_due()  # the first save is due one interval from now
    self.noise = dict.fromkeys(objective_lib.NOISE_SUMS, 0.0)
    self.first_step = self.step + 1
    self.window = (time.perf_counter(), self.step)

  def run(self, stream):
    """Trains to the final step; returns the last step's metrics."""
    iterator, self.with_noise = stream
    config, parts = self.config, self.parts
    self.train_step = build_step(config, self.strategy, parts["model"],
                                 parts["optimizer"], parts["curriculum"],
                                 config.data.batch_size,
                                 parts.get("mixed_curriculum"),
                                 parts.get("weight_average"),
                                 parts["label_evidence"])
    self.writer = self.role.summary_writer()
    logging.info("%straining %s on %d examples of %s from step %d to %d",
                 "" if self.role.is_chief else f"{self.role.name}: ",
                 config.model.studentnet, self.num_examples,
                 config.data.data_dir, self.step,
                 config.optimization.max_number_of_steps)
    metrics = {}
    while self.step < config.optimization.max_number_of_steps:
      requests = tf.constant(
          [float(self.signals.received is not None),
           float(self.save_due())], tf.float32)
      metrics = self.train_step(next(iterator), requests)
      self.step += 1
      self._check_finite(metrics)
      self._summarise(metrics)
      self._report_progress(metrics)
      self._stop_if_asked(metrics)
      self._save_if_due(metrics)
    self.saver.save(self.step)
    if self.role.is_chief:
      logging.info(
          "%s",
          reporting.closing_line(config, self.step - self.first_step + 1,
                                 metrics))
    return {k: float(v) for k, v in metrics.items() if k not in CONTROL_METRICS}

  def _check_finite(self, metrics):
    total = float(metrics["total_loss"])
    if not math.isfinite(total):
      raise safety.TrainingError(
          f"total loss is {total} at step {self.step}; training stopped. The "
          f"last good checkpoint is {self.saver.last_good or 'none'}")

  def _summarise(self, metrics):
    """A summary when due by time or steps, and at the final step; the noise
    diagnostics over the steps since the previous one."""
    for key in self.noise:
      self.noise[key] += float(metrics[key])
    config, step = self.config, self.step
    every_n = (config.run.save_summaries_steps and
               step % config.run.save_summaries_steps == 0)
    if self.summary_due(
    ) or every_n or step == config.optimization.max_number_of_steps:
      rate = (self.schedule(step -
                            1) if callable(self.schedule) else self.schedule)
      reporting.write_summaries(self.writer, metrics, rate, step,
                                self.noise if self.with_noise else None)
      self.noise = dict.fromkeys(self.noise, 0.0)

  def _report_progress(self, metrics):
    config, step = self.config, self.step
    if (step % config.run.log_every_n_steps == 0 or step == self.first_step or
        step == config.optimization.max_number_of_steps):
      start, start_step = self.window
      rate = ((step - start_step) * config.data.batch_size /
              (time.perf_counter() - start))
      reporting.progress(step,
                         config,
                         metrics,
                         rate,
                         first=step == self.first_step)
      self.window = (time.perf_counter(), step)

  def _stop_if_asked(self, metrics):
    """SIGTERM/SIGINT here or on any worker: save the step, then stop."""
    if float(metrics["stop_requests"]) > 0:
      path = self.saver.save(self.step)
      sig = self.signals.received or signal.SIGTERM
      by = (signal.Signals(sig).name
            if self.signals.received else "another worker")
      raise safety.Interrupted(
          f"stopped by {by} at step {self.step} of "
          f"{self.config.optimization.max_number_of_steps}; saved {path}; run the same "
          "command again to continue", 128 + int(sig))

  def _save_if_due(self, metrics):
    every_n = (self.config.run.save_checkpoint_steps and
               self.step % self.config.run.save_checkpoint_steps == 0)
    if float(metrics["save_requests"]) > 0 or every_n:
      self.saver.save(self.step)
