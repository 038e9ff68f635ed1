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
import shlex
import signal
import time

from absl import logging
import keras
import tensorflow as tf

from mentornet.curriculum import objective as objective_lib
from mentornet.data import inputs
from mentornet.data import shards
from mentornet.models import students
from mentornet.training import build
from mentornet.training import checkpoints
from mentornet.training import run_dir
from mentornet.training import safety
from mentornet.training import step as step_lib
from mentornet.training import validate as validate_lib

MAX_CHECKPOINTS = 10
CONTROL_METRICS = ("stop_requests", "save_requests")
# Metrics summed over replicas; every other one is the same on each.
SUM_METRICS = step_lib.SUM_METRICS + CONTROL_METRICS
TrainingError, Interrupted = safety.TrainingError, safety.Interrupted


def build_step(config, strategy, model, optimizer, curriculum, global_batch,
               mixed_curriculum=None, weight_average=None):
  """The compiled training step over one distributed batch.

  Each replica runs `step.train_step` (or, for a MentorMix run,
  `step.mentormix_step` with `mixed_curriculum`); then the weight average,
  if any, is updated. The returned tf.function maps a distributed batch, and
  optionally a float32 `[2]` vector of this worker's requests (stop, save),
  to a dict of scalar metrics. The requests are summed over all replicas of
  all workers and returned as `stop_requests` and `save_requests`, so every
  worker takes the same decision at the same step.
  """
  config = build.with_rules(config)

  def replica_step(batch, requests):
    clean_labels = batch.get("clean_label")
    if clean_labels is None:  # a batch without clean labels: none known
      clean_labels = tf.fill(tf.shape(batch["label"]),
                             tf.constant(-1, tf.int64))
    if config.use_mentormix:
      result = step_lib.mentormix_step(
          model, optimizer, curriculum, mixed_curriculum, batch["image"],
          tf.one_hot(batch["label"], model.output_shape[-1]), clean_labels,
          regularization=config.regularization,
          mixup_alpha=config.mixup_alpha, seed=config.seed,
          global_batch=global_batch)
    else:
      result = step_lib.train_step(
          model, optimizer, curriculum, batch["image"], batch["label"],
          clean_labels, regularization=config.regularization,
          global_batch=global_batch)
    return dict(result.metrics, stop_requests=requests[0],
                save_requests=requests[1])

  if config.jit_compile and strategy.num_replicas_in_sync == 1:
    replica_step = tf.function(replica_step, jit_compile=True)

  @tf.function
  def step(batch, requests=None):
    if requests is None:
      requests = tf.zeros([2], tf.float32)
    per_replica = strategy.run(replica_step, args=(batch, requests))
    if weight_average is not None:
      weight_average.update(optimizer.iterations - 1)
    metrics = {}
    for key, value in per_replica.items():
      op = (tf.distribute.ReduceOp.SUM if key in SUM_METRICS
            else tf.distribute.ReduceOp.MEAN)
      metrics[key] = strategy.reduce(op, value, axis=None)
    metrics["total_loss"] = metrics["weighted_loss"] + metrics["decay_loss"]
    return metrics
  return step


SUMMARY_NAMES = {
    "orig_loss": "train/loss", "weighted_loss": "train/weighted_loss",
    "total_loss": "train/total_loss", "decay_loss": "train/decay_loss",
    "data_util": "mentornet/data_util", "sum_v": "mentornet/sum_v",
    "percentile_loss": "mentornet/percentile_loss",
    "moving_average": "mentornet/moving_average",
    "dropout_rate": "mentornet/dropout_rate", "epoch": "mentornet/epoch",
    "mean_weight": "mentornet/mean_weight"}
NOT_SUMMARISED = CONTROL_METRICS + objective_lib.NOISE_SUMS


def _summary_name(key):
  """The TensorBoard tag of a metric (MentorMix's first weighting's
  statistics as `mentormix/individual_*`)."""
  if key.startswith("first_"):
    return f"mentormix/individual_{key[len('first_'):]}"
  return SUMMARY_NAMES.get(key, f"mentornet/{key}")


def _write_summaries(writer, metrics, learning_rate, step, noise=None):
  """One summary: the step's metrics, and the noise diagnostics of the
  examples trained on since the previous summary (`noise`: summed
  `curriculum.noise_sums`, None when the records carry no clean labels)."""
  with writer.as_default(step=step):
    for key, value in metrics.items():
      if key not in NOT_SUMMARISED:
        tf.summary.scalar(_summary_name(key), value)
    tf.summary.scalar("train/learning_rate", learning_rate)
    if noise is not None:
      for key, value in objective_lib.noise_diagnostics(noise).items():
        tf.summary.scalar(f"noise/{key}", value)
  writer.flush()


def _progress(step, config, metrics, images_per_second, first=False):
  """One progress line; README's "Training a StudentNet" says what each is.

  The first line's rate includes compilation, so it gives no ETA.
  """
  if first:
    when = " (first step, with compilation)"
  else:
    left = (config.max_number_of_steps - step) * config.batch_size
    eta = left / images_per_second if images_per_second > 0 else 0
    when = f"  ETA {int(eta // 3600)}h{int(eta % 3600 // 60):02d}m"
  logging.info("step %d/%d  loss %.4f  weighted %.4f  total %.4f  "
               "data_util %.3f  %.0f images/s%s", step,
               config.max_number_of_steps, float(metrics["orig_loss"]),
               float(metrics["weighted_loss"]), float(metrics["total_loss"]),
               float(metrics["data_util"]), images_per_second, when)


def closing_line(config, steps_done, metrics):
  """What a finished run prints last: steps, loss, where its results are."""
  return (f"done: {steps_done} steps to step {config.max_number_of_steps}, "
          f"final loss {float(metrics['orig_loss']):.4f} (weighted "
          f"{float(metrics['weighted_loss']):.4f}); checkpoints, summaries "
          f"and {run_dir.CONFIG_FILE} are in {config.train_log_dir}; look at "
          f"them with: tensorboard --logdir {shlex.quote(config.train_log_dir)}")


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
    lock = run_dir.DirectoryLock(config.train_log_dir).acquire()
  except OSError as e:
    raise safety.TrainingError(
        f"cannot use --train_log_dir={config.train_log_dir}: {e}") from None
  try:
    for path in run_dir.remove_orphaned_saves(config.train_log_dir,
                                              run_dir.CHECKPOINT_NAME):
      logging.warning("removed %s, left by a save that was interrupted", path)
    run_dir.save_config(config.train_log_dir, record)
  except OSError as e:
    lock.release()
    raise safety.TrainingError(
        f"could not write {run_dir.CONFIG_FILE} in {config.train_log_dir} "
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
  strategy = build.make_strategy(config.distribution_strategy)
  role = run_dir.WorkerRole(strategy, config.train_log_dir)
  num_examples = shards.count_records(checked.files, config.dataset_name)
  record = validate_lib.run_record(
      config, shards.data_fingerprint(checked.files, num_examples))
  validate_lib.check_log_dir(config, record["data"])
  lock = _setup_directory(config, role, record)
  try:
    with safety.StopSignals() as signals:
      return _train(config, strategy, role, checked, record, signals)
  except BaseException:
    if lock:
      _forget_unsaved_run(config.train_log_dir)
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
  """The training loop of `run`, inside the directory lock."""
  num_examples = record["data"]["records"]
  keras.utils.set_random_seed(config.seed)
  with strategy.scope():
    model, schedule, optimizer, curriculum = build.build_training(
        config, num_examples, checked)
    mixed = (build.make_mixed_curriculum(config, checked)
             if config.use_mentormix else None)
    average = build.make_weight_average(config, model)
  # Everything a resumed run needs to continue exactly as the uninterrupted
  # one: the generators of Keras' dropout layers too.
  parts = {"model": model, "optimizer": optimizer, "curriculum": curriculum,
           "seed_generators": checkpoints.rng_states(model)}
  if mixed is not None:
    parts["mixed_curriculum"] = mixed
  if average is not None:
    parts["weight_average"] = average
  checkpoint = tf.train.Checkpoint(
      **parts, run_config=tf.Variable(json.dumps(record, sort_keys=True)))
  all_finite = safety.finite_check(
      list(model.variables) + list(optimizer.variables) +
      [v for part in (curriculum, mixed, average) if part is not None
       for v in part.variables])
  latest = checkpoints.resume(role.train_log_dir, run_dir.CHECKPOINT_NAME,
                              parts, all_finite, may_write=role.is_chief)
  if latest:
    logging.info("resumed from %s", latest)
  manager = tf.train.CheckpointManager(
      checkpoint, role.write_dir, max_to_keep=MAX_CHECKPOINTS,
      checkpoint_name=run_dir.CHECKPOINT_NAME)
  saver = safety.Saver(manager, all_finite, latest)
  step = int(optimizer.iterations.value.numpy())
  if step >= config.max_number_of_steps:
    logging.info("already at step %d of %d", step, config.max_number_of_steps)
    return {}
  examples = inputs.load_examples(checked.files, config.dataset_name)
  with_noise = inputs.has_clean_labels(examples)
  # The stream continues at the example where `step` left off.
  student = students.get(config.studentnet)
  dataset = inputs.train_dataset(
      config.data_dir, config.dataset_name, student.pad, config.batch_size,
      seed=config.seed, examples=examples, start=step * config.batch_size,
      preprocessing=student.preprocessing)
  if config.distribution_strategy == "multi_worker_mirrored":
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    dataset = dataset.with_options(options)
  iterator = iter(strategy.experimental_distribute_dataset(dataset))
  train_step = build_step(config, strategy, model, optimizer, curriculum,
                          config.batch_size, mixed, average)
  writer = role.summary_writer()
  summary_due = safety.Every(config.save_summaries_secs)
  save_due = safety.Every(config.save_interval_secs)
  save_due()  # the first save is due one interval from now
  logging.info("%straining %s on %d examples of %s from step %d to %d",
               "" if role.is_chief else f"{role.name}: ", config.studentnet,
               num_examples, config.data_dir, step, config.max_number_of_steps)
  window_start, window_step = time.perf_counter(), step
  first_step = step + 1
  metrics = {}
  noise = dict.fromkeys(objective_lib.NOISE_SUMS, 0.0)
  while step < config.max_number_of_steps:
    requests = tf.constant([float(signals.received is not None),
                            float(save_due())], tf.float32)
    metrics = train_step(next(iterator), requests)
    step += 1
    total = float(metrics["total_loss"])
    if not math.isfinite(total):
      raise safety.TrainingError(
          f"total loss is {total} at step {step}; training stopped. The last "
          f"good checkpoint is {saver.last_good or 'none'}")
    for key in noise:
      noise[key] += float(metrics[key])
    summary_n = (config.save_summaries_steps and
                 step % config.save_summaries_steps == 0)
    if summary_due() or summary_n or step == config.max_number_of_steps:
      _write_summaries(writer, metrics, schedule(step - 1)
                       if callable(schedule) else schedule, step,
                       noise if with_noise else None)
      noise = dict.fromkeys(noise, 0.0)
    if (step % config.log_every_n_steps == 0 or step == first_step or
        step == config.max_number_of_steps):
      rate = ((step - window_step) * config.batch_size
              / (time.perf_counter() - window_start))
      _progress(step, config, metrics, rate, first=step == first_step)
      window_start, window_step = time.perf_counter(), step
    if float(metrics["stop_requests"]) > 0:
      path = saver.save(step)
      sig = signals.received or signal.SIGTERM
      by = signal.Signals(sig).name if signals.received else "another worker"
      raise safety.Interrupted(
          f"stopped by {by} at step {step} of {config.max_number_of_steps};"
          f" saved {path}; run the same command again to continue",
          128 + int(sig))
    every_n = (config.save_checkpoint_steps
               and step % config.save_checkpoint_steps == 0)
    if float(metrics["save_requests"]) > 0 or every_n:
      saver.save(step)
  saver.save(step)
  if role.is_chief:
    logging.info("%s", closing_line(config, step - first_step + 1, metrics))
  return {k: float(v) for k, v in metrics.items() if k not in CONTROL_METRICS}
