"""One StudentNet training loop; the baseline is the MentorNet loop with uniform weights.

`run(config)` trains a StudentNet on a noisy CIFAR data directory (SPEC §4):
per-example softmax cross-entropy, weighted by a frozen MentorNet's curriculum
(or by 1 for the baseline), the original optimisers, schedules and weight
decay, TensorBoard summaries, checkpoints that resume (model, optimizer, step
and the curriculum's moving average), a progress line, and a clean stop on a
NaN or Inf loss.
"""

import dataclasses
import json
import math
import os
import time

from absl import logging
import keras
import tensorflow as tf

from mentornet import curriculum as curriculum_lib
from mentornet import inputs
from mentornet import mentor
from mentornet import optimizers
from mentornet import students

CONFIG_FILE = "train_config.json"
CHECKPOINT_NAME = "model.ckpt"
MAX_CHECKPOINTS = 10
STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")
# Flags that may change between runs in one train_log_dir.
RUNTIME_FIELDS = ("save_summaries_secs", "save_interval_secs",
                  "save_checkpoint_steps",
                  "max_number_of_steps", "log_every_n_steps",
                  "distribution_strategy", "jit_compile")
SUM_METRICS = ("orig_loss", "weighted_loss", "decay_loss", "sum_v")


class TrainingError(RuntimeError):
  """Training stopped (e.g. on a NaN loss); the message says why."""


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
    d = dataclasses.asdict(self)
    d["resnet_widths"] = list(self.resnet_widths)
    return d


def validate_model_flags(config):
  """One-line errors for an unknown dataset or StudentNet (train and eval)."""
  if config.dataset_name not in inputs.NUM_CLASSES:
    raise ValueError(f"--dataset_name={config.dataset_name} is unknown; "
                     "choose cifar10 or cifar100")
  if config.studentnet not in students.STUDENTNETS:
    raise ValueError(f"--studentnet={config.studentnet} is unknown; choose "
                     "resnet101 or inception")


def validate(config):
  """Checks every flag and input before any work; raises ValueError or
  FileNotFoundError with one line naming the flag, its value and what is
  allowed. Returns the training record files."""
  def check(ok, message):
    if not ok:
      raise ValueError(message)
  check(bool(config.train_log_dir), "--train_log_dir is required")
  validate_model_flags(config)
  check(config.distribution_strategy in STRATEGIES,
        f"--distribution_strategy={config.distribution_strategy} is unknown;"
        f" choose one of {', '.join(STRATEGIES)}")
  for name in ("batch_size", "max_number_of_steps", "log_every_n_steps",
               "num_residual_units"):
    check(getattr(config, name) > 0,
          f"--{name}={getattr(config, name)} must be positive")
  check(config.learning_rate > 0 and config.num_epochs_per_decay > 0,
        "--learning_rate and --num_epochs_per_decay must be positive")
  check(len(config.resnet_widths) == 3 and min(config.resnet_widths) >= 16,
        f"--resnet_widths={','.join(map(str, config.resnet_widths))} must be "
        "three widths >= 16")
  if config.use_mentornet:
    check(0.0 <= config.loss_p_percentile <= 1.0,
          f"--loss_p_percentile={config.loss_p_percentile} is outside [0, 1]")
    check(0.0 <= config.loss_moving_average_decay <= 1.0,
          "--loss_moving_average_decay="
          f"{config.loss_moving_average_decay} is outside [0, 1]")
    check(0 <= config.burn_in_epoch <= 100,
          f"--burn_in_epoch={config.burn_in_epoch} is outside [0, 100]")
    try:
      curriculum_lib.parse_dropout_rate_list(config.example_dropout_rates)
    except ValueError as e:
      raise ValueError(f"--{e}") from None
    check(bool(config.trained_mentornet_dir),
          "--trained_mentornet_dir is required")
    mentor.resolve_checkpoint(config.trained_mentornet_dir)
  files = inputs.record_files(config.data_dir, config.dataset_name, "train")
  check_log_dir(config)
  return files


def check_log_dir(config):
  """Refuses a train_log_dir that holds a run with another configuration."""
  path = os.path.join(config.train_log_dir, CONFIG_FILE)
  if not os.path.exists(path):
    if os.path.isdir(config.train_log_dir) and tf.train.latest_checkpoint(
        config.train_log_dir):
      raise ValueError(f"--train_log_dir={config.train_log_dir} holds "
                       f"checkpoints but no {CONFIG_FILE}; use another "
                       "directory")
    return
  with open(path) as f:
    saved = json.load(f)
  ours = config.to_json_dict()
  differing = [f"{k}: {saved.get(k)!r} there, {ours[k]!r} here"
               for k in ours if k not in RUNTIME_FIELDS and saved.get(k) != ours[k]]
  if differing:
    raise ValueError(f"--train_log_dir={config.train_log_dir} holds a run with"
                     f" another configuration ({'; '.join(differing)}); use "
                     "another directory or the same flags")


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


def _uses_decay(config):
  """Whether the minimised loss includes the model's weight decay.

  Only resnet101 does. Both inception scripts built CifarNet under an arg
  scope declaring an fc L2 of 0.004, but the baseline handed the mean
  cross-entropy alone to `slim.learning.create_train_op` and the MentorNet
  script the weighted loss alone: the regularisation losses were never added.
  """
  return config.studentnet == "resnet101"


def build_step(config, strategy, model, optimizer, curriculum, global_batch):
  """The compiled training step over one distributed batch.

  Returns:
    A tf.function mapping a distributed batch to a dict of scalar metrics.
  """
  scale_decay_by_v = config.use_mentornet and config.studentnet == "resnet101"
  uses_decay = _uses_decay(config)

  def replica_step(images, labels):
    num_replicas = tf.distribute.get_replica_context().num_replicas_in_sync
    with tf.GradientTape() as tape:
      logits = model(images, training=True)
      loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
      out = curriculum(loss, optimizer.iterations)
      v = out.weights
      weighted = tf.reduce_sum(loss * v) / global_batch
      decay = tf.constant(0.0)
      if uses_decay and model.losses:
        decay = tf.add_n(model.losses)
        # Each replica adds its share: the sum is decay (x sum(v) / B).
        decay = (decay * tf.reduce_sum(v) / global_batch if scale_decay_by_v
                 else decay / num_replicas)
      total = weighted + decay
    variables = model.trainable_variables
    optimizer.apply(tape.gradient(total, variables), variables)
    metrics = {"orig_loss": tf.reduce_sum(loss) / global_batch,
               "weighted_loss": weighted, "decay_loss": decay}
    metrics.update(out.stats)
    return metrics

  if config.jit_compile and strategy.num_replicas_in_sync == 1:
    replica_step = tf.function(replica_step, jit_compile=True)

  @tf.function
  def step(batch):
    per_replica = strategy.run(replica_step,
                               args=(batch["image"], batch["label"]))
    metrics = {}
    for key, value in per_replica.items():
      op = (tf.distribute.ReduceOp.SUM if key in SUM_METRICS
            else tf.distribute.ReduceOp.MEAN)
      metrics[key] = strategy.reduce(op, value, axis=None)
    metrics["total_loss"] = metrics["weighted_loss"] + metrics["decay_loss"]
    return metrics
  return step


def _make_curriculum(config):
  if not config.use_mentornet:
    return curriculum_lib.UniformCurriculum()
  return curriculum_lib.MentorNetCurriculum(
      mentor.load_mentornet(config.trained_mentornet_dir),
      config.max_number_of_steps, config.loss_p_percentile,
      config.burn_in_epoch, config.fixed_epoch_after_burn_in,
      config.loss_moving_average_decay, config.example_dropout_rates,
      seed=config.seed)


def build_model(config):
  """The StudentNet of a TrainConfig or EvalConfig (same field names)."""
  return students.build_studentnet(
      config.studentnet, inputs.NUM_CLASSES[config.dataset_name],
      config.num_residual_units, tuple(config.resnet_widths))


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


def _write_summaries(writer, metrics, learning_rate, step):
  names = {"orig_loss": "train/loss", "weighted_loss": "train/weighted_loss",
           "total_loss": "train/total_loss", "decay_loss": "train/decay_loss",
           "data_util": "mentornet/data_util", "sum_v": "mentornet/sum_v",
           "percentile_loss": "mentornet/percentile_loss",
           "moving_average": "mentornet/moving_average",
           "dropout_rate": "mentornet/dropout_rate",
           "epoch": "mentornet/epoch"}
  with writer.as_default(step=step):
    for key, value in metrics.items():
      tf.summary.scalar(names[key], value)
    tf.summary.scalar("train/learning_rate", learning_rate)
  writer.flush()


def _progress(step, config, metrics, images_per_second):
  left = (config.max_number_of_steps - step) * config.batch_size
  eta = left / images_per_second if images_per_second > 0 else 0
  logging.info("step %d/%d  loss %.4f  total %.4f  data_util %.3f  "
               "%.0f images/s  ETA %dh%02dm", step, config.max_number_of_steps,
               float(metrics["orig_loss"]), float(metrics["total_loss"]),
               float(metrics["data_util"]), images_per_second,
               eta // 3600, eta % 3600 // 60)


def build_training(config, num_examples):
  """Creates model, schedule, optimizer and curriculum in the current scope.

  Returns:
    (model, schedule, optimizer, curriculum).
  """
  model = build_model(config)
  schedule = optimizers.learning_rate_schedule(
      config.studentnet, config.use_mentornet, config.learning_rate,
      config.learning_rate_decay_factor, num_examples, config.batch_size,
      config.num_epochs_per_decay)
  optimizer = optimizers.make_optimizer(config.studentnet, schedule)
  optimizer.build(model.trainable_variables)
  return model, schedule, optimizer, _make_curriculum(config)


def run(config):
  """Trains a StudentNet as configured; resumes from `train_log_dir`.

  Returns:
    The metrics of the last step, as Python floats.

  Raises:
    ValueError / FileNotFoundError: a bad flag or input (before any work).
    TrainingError: a NaN or Inf loss (the last good checkpoint is kept).
  """
  files = validate(config)
  num_examples = inputs.count_records(files)
  os.makedirs(config.train_log_dir, exist_ok=True)
  with open(os.path.join(config.train_log_dir, CONFIG_FILE), "w") as f:
    json.dump(config.to_json_dict(), f, indent=1)
  keras.utils.set_random_seed(config.seed)
  strategy = make_strategy(config.distribution_strategy)
  with strategy.scope():
    model, schedule, optimizer, curriculum = build_training(config,
                                                            num_examples)
  checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer,
                                   curriculum=curriculum)
  manager = tf.train.CheckpointManager(
      checkpoint, config.train_log_dir, max_to_keep=MAX_CHECKPOINTS,
      checkpoint_name=CHECKPOINT_NAME)
  if manager.latest_checkpoint:
    checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    logging.info("resumed from %s", manager.latest_checkpoint)
  step = int(optimizer.iterations.value.numpy())
  if step >= config.max_number_of_steps:
    logging.info("already at step %d of %d", step, config.max_number_of_steps)
    return {}
  dataset = inputs.train_dataset(config.data_dir, config.dataset_name,
                                 config.studentnet, config.batch_size,
                                 seed=config.seed + step, files=files,
                                 num_examples=num_examples)
  iterator = iter(strategy.experimental_distribute_dataset(dataset))
  train_step = build_step(config, strategy, model, optimizer, curriculum,
                          config.batch_size)
  writer = tf.summary.create_file_writer(config.train_log_dir)
  summary_due = _Every(config.save_summaries_secs)
  save_due = _Every(config.save_interval_secs)
  save_due()  # the first save is due one interval from now
  logging.info("training %s on %d examples of %s from step %d to %d",
               config.studentnet, num_examples, config.data_dir, step,
               config.max_number_of_steps)
  window_start, window_step = time.perf_counter(), step
  metrics = {}
  while step < config.max_number_of_steps:
    metrics = train_step(next(iterator))
    step += 1
    total = float(metrics["total_loss"])
    if not math.isfinite(total):
      raise TrainingError(
          f"total loss is {total} at step {step}; training stopped. The last "
          f"good checkpoint is {manager.latest_checkpoint or 'none'}")
    if summary_due() or step == config.max_number_of_steps:
      _write_summaries(writer, metrics, schedule(step - 1), step)
    if step % config.log_every_n_steps == 0:
      rate = ((step - window_step) * config.batch_size
              / (time.perf_counter() - window_start))
      _progress(step, config, metrics, rate)
      window_start, window_step = time.perf_counter(), step
    every_n = (config.save_checkpoint_steps
               and step % config.save_checkpoint_steps == 0)
    if save_due() or every_n:
      manager.save(checkpoint_number=step)
  manager.save(checkpoint_number=step)
  return {k: float(v) for k, v in metrics.items()}
