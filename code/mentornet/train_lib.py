"""One StudentNet training loop; the baseline is the MentorNet loop with uniform weights.

`run(config)` trains a StudentNet on a noisy CIFAR data directory, as the
original `cifar_train_baseline.py` and `cifar_train_mentornet.py` did:
per-example softmax cross-entropy, weighted by a frozen MentorNet's curriculum
(or by 1 for the baseline), the original optimisers, schedules and weight
decay, TensorBoard summaries, checkpoints that resume (model, optimizer, step
and the curriculum's moving average), a progress line, and a clean stop on a
NaN or Inf loss.
"""

import collections
import dataclasses
import json
import math
import os
import signal
import time

from absl import logging
import keras
import tensorflow as tf

from mentornet import checkpoints
from mentornet import curriculum as curriculum_lib
from mentornet import datasets
from mentornet import inputs
from mentornet import mentor
from mentornet import run_dir
from mentornet import students

CONFIG_FILE = run_dir.CONFIG_FILE
CHECKPOINT_NAME = run_dir.CHECKPOINT_NAME
MAX_CHECKPOINTS = 10
STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")
# Flags that may change between runs in one train_log_dir. A MentorNet run's
# max_number_of_steps may not: it defines the progress epoch.
RUNTIME_FIELDS = ("save_summaries_secs", "save_summaries_steps",
                  "save_interval_secs",
                  "save_checkpoint_steps",
                  "max_number_of_steps", "log_every_n_steps",
                  "distribution_strategy", "jit_compile")
# Not part of a run's configuration: the run may be moved or renamed.
LOCATION_FIELDS = ("train_log_dir",)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
SUM_METRICS = ("orig_loss", "weighted_loss", "decay_loss", "sum_v",
               "stop_requests", "save_requests") + curriculum_lib.NOISE_SUMS
CONTROL_METRICS = ("stop_requests", "save_requests")


class TrainingError(RuntimeError):
  """Training stopped (e.g. on a NaN loss); the message says why."""


class Interrupted(RuntimeError):
  """SIGTERM or SIGINT: a checkpoint was saved at the step reached.

  Attributes:
    exit_code: 128 + the signal number (143 for SIGTERM, 130 for SIGINT).
  """

  def __init__(self, message, exit_code):
    super().__init__(message)
    self.exit_code = exit_code


@dataclasses.dataclass
class TrainConfig:
  """Everything a training run needs; the scripts' flags map onto it."""
  train_log_dir: str
  data_dir: str
  dataset_name: str = "cifar10"
  studentnet: str = "resnet101"
  batch_size: int = 128
  learning_rate: float = 0.1
  learning_rate_decay_factor: float = 0.1
  num_epochs_per_decay: float = 50
  max_number_of_steps: int = 39000
  save_summaries_secs: float = 120
  save_summaries_steps: int = 0  # also summarise every N steps (0: off)
  save_interval_secs: float = 1200
  save_checkpoint_steps: int = 0  # also save every N steps (0: off)
  num_residual_units: int = 9
  resnet_widths: tuple = (160, 320, 640)
  seed: int = 0
  distribution_strategy: str = "default"
  log_every_n_steps: int = 100
  jit_compile: bool = False
  use_mentornet: bool = False
  trained_mentornet_dir: str = ""
  loss_p_percentile: float = 0.7
  burn_in_epoch: int = 0
  fixed_epoch_after_burn_in: bool = False
  loss_moving_average_decay: float = 0.5
  example_dropout_rates: str = "0.5,17,0.05,78,1.0,5"

  def to_json_dict(self):
    """The run's configuration as stored in `train_config.json`."""
    d = dataclasses.asdict(self)
    d["resnet_widths"] = list(self.resnet_widths)
    for name in LOCATION_FIELDS:
      del d[name]
    return d


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
  def check(ok, message):
    if not ok:
      raise ValueError(message)
  check(bool(config.train_log_dir), "--train_log_dir is required")
  datasets.get(config.dataset_name)
  students.get(config.studentnet)
  check(config.distribution_strategy in STRATEGIES,
        f"--distribution_strategy={config.distribution_strategy} is unknown;"
        f" choose one of {', '.join(STRATEGIES)}")
  for name in ("batch_size", "max_number_of_steps", "log_every_n_steps",
               "num_residual_units"):
    check(getattr(config, name) > 0,
          f"--{name}={getattr(config, name)} must be positive")
  for name in ("learning_rate", "num_epochs_per_decay"):
    value = getattr(config, name)
    check(math.isfinite(value) and value > 0,
          f"--{name}={value} must be a positive number")
  check(0 < config.learning_rate_decay_factor <= 1,
        f"--learning_rate_decay_factor={config.learning_rate_decay_factor} "
        "must lie in (0, 1]")
  for name in ("save_summaries_secs", "save_interval_secs"):
    value = getattr(config, name)
    check(math.isfinite(value) and value >= 0,
          f"--{name}={value} must be a number of seconds >= 0")
  check(config.save_summaries_steps >= 0,
        f"--save_summaries_steps={config.save_summaries_steps} must be >= 0"
        " (0: summarise by time and at the end only)")
  check(config.save_checkpoint_steps >= 0,
        f"--save_checkpoint_steps={config.save_checkpoint_steps} must be >= 0"
        " (0: save by time and at the end only)")
  widths = tuple(config.resnet_widths)
  check(len(widths) == 3 and 16 <= widths[0] < widths[1] < widths[2],
        f"--resnet_widths={','.join(map(str, widths))} must be three "
        "increasing widths, the first >= 16 (each stage that halves the image"
        " widens the shortcut by zero-padding, as the original's did)")
  if config.use_mentornet:
    check(0.0 <= config.loss_p_percentile <= 1.0,
          f"--loss_p_percentile={config.loss_p_percentile} is outside [0, 1]")
    check(0.0 <= config.loss_moving_average_decay <= 1.0,
          "--loss_moving_average_decay="
          f"{config.loss_moving_average_decay} is outside [0, 1]")
    check(0 <= config.burn_in_epoch <= 100,
          f"--burn_in_epoch={config.burn_in_epoch} is outside [0, 100]")
    try:
      rates = curriculum_lib.parse_dropout_rate_list(
          config.example_dropout_rates)
    except ValueError as e:
      raise ValueError(f"--{e}") from None
    check(bool(config.trained_mentornet_dir),
          "--trained_mentornet_dir is required")
    prefix = mentor.resolve_checkpoint(config.trained_mentornet_dir)
  else:
    rates = prefix = None
  files = inputs.record_files(config.data_dir, config.dataset_name, "train")
  return Checked(files, rates, prefix)


def _same_path(a, b):
  return (os.path.normpath(str(a)) == os.path.normpath(str(b)) or
          os.path.realpath(str(a)) == os.path.realpath(str(b)))


PATH_FIELDS = ("data_dir", "trained_mentornet_dir")  # compared as paths


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
  path = os.path.join(train_log_dir, CONFIG_FILE)
  saved = run_dir.read_json(path)
  if saved is not None:
    return saved, path
  for found in checkpoints.on_disk(train_log_dir, CHECKPOINT_NAME):
    if not found.complete:
      continue
    try:
      text = checkpoints.stored_config(found.prefix)
    except Exception:  # pylint: disable=broad-except
      continue  # unreadable: the restore will pass over it and say why
    if text is not None:
      return json.loads(text), f"{found.prefix} (its {CONFIG_FILE} is gone)"
    logging.warning("%s holds checkpoints of an older version but no %s; "
                    "adopting this run's flags", train_log_dir, CONFIG_FILE)
    return None, None
  return None, None


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
  runtime = set(RUNTIME_FIELDS)
  if config.use_mentornet:
    runtime.discard("max_number_of_steps")
  differing = []
  for key in ours:
    if key in runtime or key in LOCATION_FIELDS or saved.get(key) == ours[key]:
      continue
    if (key in PATH_FIELDS and saved.get(key) and ours[key] and
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
  change = inputs.fingerprint_change(saved.get("data") or fingerprint,
                                     fingerprint)
  if change:
    raise ValueError(
        f"--data_dir={config.data_dir} holds other training data than the run"
        f" in {config.train_log_dir} ({change}); resume on the run's own data"
        " or start a new run in another directory")


def make_strategy(name):
  """The tf.distribute strategy named by --distribution_strategy."""
  if name == "mirrored":
    # All GPUs; on a machine without any, all logical CPU devices.
    devices = (tf.config.list_logical_devices("GPU")
               or tf.config.list_logical_devices("CPU"))
    return tf.distribute.MirroredStrategy([d.name for d in devices])
  if name == "multi_worker_mirrored":
    return tf.distribute.MultiWorkerMirroredStrategy()
  return tf.distribute.get_strategy()


def build_step(config, strategy, model, optimizer, curriculum, global_batch):
  """The compiled training step over one distributed batch.

  Returns:
    A tf.function mapping a distributed batch, and optionally a float32
    `[2]` vector of this worker's requests (stop, save), to a dict of scalar
    metrics. The requests are summed over all replicas of all workers and
    returned as `stop_requests` and `save_requests`, so every worker takes the
    same decision at the same step.
  """
  regularization = _regularization(config)

  def replica_step(batch, requests):
    with tf.GradientTape() as tape:
      logits = model(batch["image"], training=True)
      loss = tf.nn.sparse_softmax_cross_entropy_with_logits(batch["label"],
                                                            logits)
      objective = curriculum_lib.weighted_objective(
          loss, curriculum, optimizer.iterations, model.losses,
          regularization, global_batch)
    variables = model.trainable_variables
    optimizer.apply(tape.gradient(objective.total, variables), variables)
    metrics = dict(objective.metrics)
    clean_labels = batch.get("clean_label")
    if clean_labels is None:  # a batch without clean labels: none known
      clean_labels = tf.fill(tf.shape(batch["label"]), tf.constant(-1,
                                                                   tf.int64))
    metrics.update(curriculum_lib.noise_sums(
        objective.weights, batch["label"], clean_labels))
    metrics.update(stop_requests=requests[0], save_requests=requests[1])
    return metrics

  if config.jit_compile and strategy.num_replicas_in_sync == 1:
    replica_step = tf.function(replica_step, jit_compile=True)

  @tf.function
  def step(batch, requests=None):
    if requests is None:
      requests = tf.zeros([2], tf.float32)
    per_replica = strategy.run(replica_step, args=(batch, requests))
    metrics = {}
    for key, value in per_replica.items():
      op = (tf.distribute.ReduceOp.SUM if key in SUM_METRICS
            else tf.distribute.ReduceOp.MEAN)
      metrics[key] = strategy.reduce(op, value, axis=None)
    metrics["total_loss"] = metrics["weighted_loss"] + metrics["decay_loss"]
    return metrics
  return step


def _regularization(config):
  """How `model.losses` enter the loss: the StudentNet's rule.

  The original inception scripts declared an fc L2 but never added it; the
  resnet scripts added the weight decay, scaled by `sum(v) / B` with MentorNet.
  """
  if (students.get(config.studentnet).weight_decay ==
      students.DECAY_SCALED_BY_WEIGHTS):
    return (curriculum_lib.REGULARIZATION_SCALED_BY_WEIGHTS
            if config.use_mentornet else curriculum_lib.REGULARIZATION_ADDED)
  return curriculum_lib.REGULARIZATION_NONE


def _make_curriculum(config, checked=None):
  """The run's curriculum; `checked` holds what `validate` already parsed."""
  if not config.use_mentornet:
    return curriculum_lib.UniformCurriculum()
  rates, prefix = ((checked.dropout_rates, checked.mentornet_checkpoint)
                   if checked else (config.example_dropout_rates,
                                    config.trained_mentornet_dir))
  return curriculum_lib.MentorNetCurriculum(
      mentor.load_mentornet(prefix), config.max_number_of_steps,
      config.loss_p_percentile, config.burn_in_epoch,
      config.fixed_epoch_after_burn_in, config.loss_moving_average_decay,
      rates, seed=config.seed)


build_model = students.build_for  # the StudentNet of a run's config


class _Every:
  """True once every `seconds` (and on the first call)."""

  def __init__(self, seconds):
    self.seconds, self.last = seconds, None

  def __call__(self):
    now = time.monotonic()
    if self.last is None or now - self.last >= self.seconds:
      self.last = now
      return True
    return False


SUMMARY_NAMES = {
    "orig_loss": "train/loss", "weighted_loss": "train/weighted_loss",
    "total_loss": "train/total_loss", "decay_loss": "train/decay_loss",
    "data_util": "mentornet/data_util", "sum_v": "mentornet/sum_v",
    "percentile_loss": "mentornet/percentile_loss",
    "moving_average": "mentornet/moving_average",
    "dropout_rate": "mentornet/dropout_rate", "epoch": "mentornet/epoch"}


def _write_summaries(writer, metrics, learning_rate, step, noise=None):
  """One summary: the step's metrics, and the noise diagnostics of the
  examples trained on since the previous summary (`noise`: summed
  `curriculum.noise_sums`, None when the records carry no clean labels)."""
  with writer.as_default(step=step):
    for key, value in metrics.items():
      if key in SUMMARY_NAMES:
        tf.summary.scalar(SUMMARY_NAMES[key], value)
    tf.summary.scalar("train/learning_rate", learning_rate)
    if noise is not None:
      for key, value in curriculum_lib.noise_diagnostics(noise).items():
        tf.summary.scalar(f"noise/{key}", value)
  writer.flush()


def _progress(step, config, metrics, images_per_second, first=False):
  """One progress line; README's "Training a StudentNet" says what each is."""
  left = (config.max_number_of_steps - step) * config.batch_size
  eta = left / images_per_second if images_per_second > 0 else 0
  logging.info("step %d/%d  loss %.4f  weighted %.4f  total %.4f  "
               "data_util %.3f  %.0f images/s%s  ETA %dh%02dm", step,
               config.max_number_of_steps, float(metrics["orig_loss"]),
               float(metrics["weighted_loss"]), float(metrics["total_loss"]),
               float(metrics["data_util"]), images_per_second,
               " (first step, with compilation)" if first else "",
               eta // 3600, eta % 3600 // 60)


def build_training(config, num_examples, checked=None):
  """Creates model, schedule, optimizer and curriculum in the current scope.

  Returns:
    (model, schedule, optimizer, curriculum).
  """
  try:
    model = build_model(config)
  except (ValueError, TypeError) as e:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise ValueError(f"--studentnet={config.studentnet} cannot be built from "
                     f"these flags ({first[:200]})") from None
  student = students.get(config.studentnet)
  schedule = student.make_schedule(config, num_examples)
  optimizer = student.make_optimizer(schedule)
  optimizer.build(model.trainable_variables)
  return model, schedule, optimizer, _make_curriculum(config, checked)


class _StopSignals:
  """Turns SIGTERM and SIGINT into a request honoured after the current step."""

  def __init__(self):
    self.received = None
    self._previous = {}

  def __enter__(self):
    for sig in STOP_SIGNALS:
      self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    if self.received is None:
      self.received = signum
      logging.warning("received %s: saving a checkpoint after this step",
                      signal.Signals(signum).name)

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


def finite_check(variables):
  """A compiled function: whether every float variable is finite."""
  floats = [v for v in variables if tf.as_dtype(v.dtype).is_floating]

  @tf.function
  def check():
    if not floats:
      return tf.constant(True)
    return tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in floats])
  return lambda: bool(check())


class _Saver:
  """Saves checkpoints only of finite state; names the last good one."""

  def __init__(self, manager, all_finite, last_good):
    self.manager, self.all_finite, self.last_good = (manager, all_finite,
                                                     last_good)
    self.last_step = None

  def save(self, step):
    if step == self.last_step:
      return self.last_good
    self.last_step = step
    if not self.all_finite():
      raise TrainingError(
          f"the variables are not finite after step {step}; training stopped "
          f"and nothing was saved. The last good checkpoint is "
          f"{self.last_good or 'none'}")
    try:
      self.last_good = self.manager.save(checkpoint_number=step)
    except (OSError, tf.errors.OpError) as e:
      message = getattr(e, "message", None) or str(e)
      raise TrainingError(
          f"could not save the checkpoint of step {step} "
          f"({message.splitlines()[0]}); the last complete checkpoint is "
          f"{self.last_good or 'none'}") from None
    return self.last_good


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
    raise TrainingError(f"cannot use --train_log_dir={config.train_log_dir}: "
                        f"{e}") from None
  try:
    for path in run_dir.remove_orphaned_saves(config.train_log_dir,
                                              CHECKPOINT_NAME):
      logging.warning("removed %s, left by a save that was interrupted", path)
    run_dir.save_config(config.train_log_dir, record)
  except OSError as e:
    lock.release()
    raise TrainingError(f"could not write {CONFIG_FILE} in "
                        f"{config.train_log_dir} ({e}); nothing was changed "
                        "and the run stays resumable") from None
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
  checked = validate(config)
  strategy = make_strategy(config.distribution_strategy)
  role = run_dir.WorkerRole(strategy, config.train_log_dir)
  num_examples = inputs.count_records(checked.files, config.dataset_name)
  record = run_record(config,
                      inputs.data_fingerprint(checked.files, num_examples))
  check_log_dir(config, record["data"])
  lock = _setup_directory(config, role, record)
  try:
    with _StopSignals() as signals:
      return _train(config, strategy, role, checked, record, signals)
  finally:
    role.cleanup()
    if lock:
      lock.release()


def _train(config, strategy, role, checked, record, signals):
  """The training loop of `run`, inside the directory lock."""
  num_examples = record["data"]["records"]
  keras.utils.set_random_seed(config.seed)
  with strategy.scope():
    model, schedule, optimizer, curriculum = build_training(
        config, num_examples, checked)
  # Everything a resumed run needs to continue exactly as the uninterrupted
  # one: the generators of Keras' dropout layers too.
  parts = {"model": model, "optimizer": optimizer, "curriculum": curriculum,
           "seed_generators": checkpoints.rng_states(model)}
  checkpoint = tf.train.Checkpoint(
      **parts, run_config=tf.Variable(json.dumps(record, sort_keys=True)))
  all_finite = finite_check(list(model.variables) +
                            list(optimizer.variables) +
                            list(curriculum.variables))
  latest = checkpoints.resume(role.train_log_dir, CHECKPOINT_NAME, parts,
                              all_finite, may_write=role.is_chief)
  if latest:
    logging.info("resumed from %s", latest)
  manager = tf.train.CheckpointManager(
      checkpoint, role.write_dir, max_to_keep=MAX_CHECKPOINTS,
      checkpoint_name=CHECKPOINT_NAME)
  saver = _Saver(manager, all_finite, latest)
  step = int(optimizer.iterations.value.numpy())
  if step >= config.max_number_of_steps:
    logging.info("already at step %d of %d", step, config.max_number_of_steps)
    return {}
  examples = inputs.load_examples(checked.files, config.dataset_name)
  with_noise = inputs.has_clean_labels(examples)
  # The stream continues at the example where `step` left off.
  dataset = inputs.train_dataset(
      config.data_dir, config.dataset_name,
      students.get(config.studentnet).pad, config.batch_size,
      seed=config.seed, examples=examples, start=step * config.batch_size)
  if config.distribution_strategy == "multi_worker_mirrored":
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    dataset = dataset.with_options(options)
  iterator = iter(strategy.experimental_distribute_dataset(dataset))
  train_step = build_step(config, strategy, model, optimizer, curriculum,
                          config.batch_size)
  writer = role.summary_writer()
  summary_due = _Every(config.save_summaries_secs)
  save_due = _Every(config.save_interval_secs)
  save_due()  # the first save is due one interval from now
  logging.info("%straining %s on %d examples of %s from step %d to %d",
               "" if role.is_chief else f"{role.name}: ", config.studentnet,
               num_examples, config.data_dir, step, config.max_number_of_steps)
  window_start, window_step = time.perf_counter(), step
  first_step = step + 1
  metrics = {}
  noise = dict.fromkeys(curriculum_lib.NOISE_SUMS, 0.0)
  while step < config.max_number_of_steps:
    requests = tf.constant([float(signals.received is not None),
                            float(save_due())], tf.float32)
    metrics = train_step(next(iterator), requests)
    step += 1
    total = float(metrics["total_loss"])
    if not math.isfinite(total):
      raise TrainingError(
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
    if step % config.log_every_n_steps == 0 or step == first_step:
      rate = ((step - window_step) * config.batch_size
              / (time.perf_counter() - window_start))
      _progress(step, config, metrics, rate, first=step == first_step)
      window_start, window_step = time.perf_counter(), step
    if float(metrics["stop_requests"]) > 0:
      path = saver.save(step)
      sig = signals.received or signal.SIGTERM
      raise Interrupted(
          f"stopped by {signal.Signals(sig).name if signals.received else 'another worker'}"
          f" at step {step} of {config.max_number_of_steps}; saved "
          f"{path}; run the same command again to continue",
          128 + int(sig))
    every_n = (config.save_checkpoint_steps
               and step % config.save_checkpoint_steps == 0)
    if float(metrics["save_requests"]) > 0 or every_n:
      saver.save(step)
  saver.save(step)
  return {k: float(v) for k, v in metrics.items() if k not in CONTROL_METRICS}
