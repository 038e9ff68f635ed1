"""Fitting a MentorNet to rows `(loss, loss_diff, label, epoch, v*)`.

`train_mentornet` trains the original's network with the original's
optimiser, one compiled pass over the shuffled rows at a time, and guards
its directory as the StudentNet trainer does: a lock, a record of the
settings and data that a resume must keep (`mentornet_config.json`), and a
resume that continues bit for bit.
"""

import hashlib
import os
import time

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from mentornet import errors
from mentornet.learning import vstar
from mentornet.learning import generate
from mentornet.models import mentor
from mentornet.runs import checkpoints
from mentornet.runs import run_dir


def grid_mse(net, vstar_fn, gamma=None, num_points=20000, seed=12345):
  """MSE between MentorNet weights and v* on random points of the grid.

  Returns:
    (mse, max absolute error).
  """
  grid = generate.predefined_grid()
  rows = grid[np.random.default_rng(seed).integers(0, len(grid), num_points)]
  want = vstar.get_vstar(vstar_fn)(rows, gamma)
  got = net.weights(rows.astype(np.float32)).numpy()
  return float(np.mean((got - want)**2)), float(np.max(np.abs(got - want)))


def is_binary(targets):
  """The original reader's `is_binary_label`: the targets take exactly the
  two values 0 and 1 (then sigmoid cross-entropy; otherwise squared error of
  the sigmoid, e.g. for the all-ones baseline curriculum)."""
  return set(np.unique(targets).tolist()) == {0.0, 1.0}


def _loss_fn(binary):

  def loss_fn(logits, targets):
    if binary:
      return tf.reduce_mean(
          tf.nn.sigmoid_cross_entropy_with_logits(labels=targets,
                                                  logits=logits))
    return tf.reduce_mean(tf.square(tf.sigmoid(logits) - targets))

  return loss_fn


def evaluate(net, rows, binary):
  """Test metrics of `net` on rows: loss, MSE of the weights and accuracy."""
  logits = net(rows[:, :4])[:, 0]
  targets = tf.constant(rows[:, 4])
  weights = tf.sigmoid(logits)
  return {
      "loss":
          float(_loss_fn(binary)(logits, targets)),
      "mse":
          float(tf.reduce_mean(tf.square(weights - targets))),
      "clean_fraction":
          float(np.mean(rows[:, 4] > 0.5)),
      "accuracy":
          float(
              tf.reduce_mean(
                  tf.cast(tf.equal(weights > 0.5, targets > 0.5), tf.float32)))
  }


def _make_pass_fn(net, optimizer, loss_fn, batch_size):
  """A compiled function running the steps of one pass over shuffled data.

  The step body is compiled with XLA and the loop over steps stays in one
  graph: one Python call per pass. (An XLA-compiled loop is ~30x slower here.)
  """
  variables = net.trainable_variables

  @tf.function(jit_compile=True)
  def train_step(x, y):
    with tf.GradientTape() as tape:
      loss = loss_fn(net(x)[:, 0], y)
    optimizer.apply(tape.gradient(loss, variables), variables)
    return loss

  @tf.function
  def run_pass(features, targets, order, num_steps):
    order = order[:num_steps * batch_size]
    xs = tf.reshape(tf.gather(features, order), [num_steps, batch_size, 4])
    ys = tf.reshape(tf.gather(targets, order), [num_steps, batch_size])
    total = tf.constant(0.0)
    for i in tf.range(num_steps):
      total += train_step(xs[i], ys[i])
    return total / tf.cast(tf.maximum(num_steps, 1), tf.float32)

  return run_pass


def train_mentornet(config):
  """Fits a MentorNet to rows (loss, loss_diff, label, epoch, v*).

  Adam, learning rate decayed x0.9 every 1000 steps (staircase), gradients
  clipped to global norm 5; sigmoid cross-entropy when the targets hold
  exactly 0 and 1, squared error of the sigmoid otherwise (all-ones targets
  included). After each pass over the data the test rows are evaluated and a
  checkpoint is written; a rerun resumes from the latest.

  Returns:
    The final test metrics, plus `loop_seconds`: wall time of the training
    loop (passes, evaluations and checkpoints).
  """
  if not 0 < config.learning_rate < float("inf"):
    raise errors.BadInput(f"learning_rate {config.learning_rate} must be a "
                          "positive number")
  train, test = generate.load_split(config.data_path, config.allow_pickle)
  if config.mini_batch_size <= 0 or config.mini_batch_size > len(train):
    raise errors.BadInput(
        f"mini_batch_size {config.mini_batch_size} must lie in "
        f"[1, {len(train)}] (the number of training rows)")
  record = _run_record(config, train, test)
  try:
    os.makedirs(config.train_dir, exist_ok=True)
    lock = run_dir.DirectoryLock(config.train_dir).acquire()
  except OSError as e:
    raise errors.BadInput(
        f"cannot use --train_dir={config.train_dir}: {e}") from None
  try:
    _check_record(config.train_dir, record)
    run_dir.save_config(config.train_dir, record, CONFIG_FILE)
    return _fit(config, train, test)
  finally:
    lock.release()


CONFIG_FILE = "mentornet_config.json"
CHECKPOINT_NAME = "mentornet"
RECORD_FIELDS = ("mini_batch_size", "learning_rate", "seed")


def _run_record(config, train, test):
  """The settings a resumed MentorNet run must keep, and its data's digest
  (`max_step_train` may grow: the schedule does not depend on it)."""
  digest = hashlib.sha256(np.ascontiguousarray(train).tobytes())
  digest.update(np.ascontiguousarray(test).tobytes())
  record = {name: getattr(config, name) for name in RECORD_FIELDS}
  record["data"] = {
      "train_rows": len(train),
      "test_rows": len(test),
      "content": digest.hexdigest()[:16]
  }
  return record


def _check_record(train_dir, record):
  """Refuses to resume a MentorNet with other settings or data."""
  saved = run_dir.read_json(os.path.join(train_dir, CONFIG_FILE))
  if saved is None:
    if checkpoints.on_disk(train_dir, CHECKPOINT_NAME):
      logging.warning(
          "%s holds MentorNet checkpoints but no %s; adopting "
          "this run's settings", train_dir, CONFIG_FILE)
    return
  differing = [
      f"{k}: {saved.get(k)!r} there, {v!r} here" for k, v in record.items()
      if saved.get(k) != v and k != "data"
  ]
  if saved.get("data") != record["data"]:
    differing.append("the training data (--data_path) differ")
  if differing:
    raise errors.BadInput(
        f"--train_dir={train_dir} holds a MentorNet trained with"
        f" other settings ({'; '.join(differing)}); use another "
        "--train_dir, or the same flags and data")


def _fit(config, train, test):
  """The training loop of `train_mentornet`, inside the directory lock."""
  binary = is_binary(train[:, 4])
  net = mentor.MentorNet(seed=config.seed)
  schedule = keras.optimizers.schedules.ExponentialDecay(config.learning_rate,
                                                         1000,
                                                         0.9,
                                                         staircase=True)
  optimizer = keras.optimizers.Adam(schedule, epsilon=1e-8, global_clipnorm=5.0)
  optimizer.build(net.trainable_variables)
  parts = {"mentornet": net, "optimizer": optimizer}
  latest = checkpoints.resume(
      config.train_dir, CHECKPOINT_NAME, parts,
      lambda: all(np.all(np.isfinite(v.numpy())) for v in net.variables))
  if latest:
    logging.info("resumed from %s", latest)
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(**parts),
                                       config.train_dir,
                                       max_to_keep=2,
                                       checkpoint_name=CHECKPOINT_NAME)
  run_pass = _make_pass_fn(net, optimizer, _loss_fn(binary),
                           config.mini_batch_size)
  features, targets = tf.constant(train[:, :4]), tf.constant(train[:, 4])
  steps_per_pass = len(train) // config.mini_batch_size
  rng = np.random.default_rng(config.seed)
  step = int(optimizer.iterations)
  # Each pass draws one permutation and ends with a checkpoint: a resumed
  # run draws those of the passes done first, then goes on exactly as the
  # uninterrupted run does.
  for _ in range(-(-step // steps_per_pass)):
    rng.permutation(len(train))
  metrics = evaluate(net, test, binary)
  loop_start = time.perf_counter()
  while step < config.max_step_train:
    start = time.perf_counter()
    num_steps = min(steps_per_pass, config.max_step_train - step)
    order = rng.permutation(len(train)).astype(np.int32)
    train_loss = float(run_pass(features, targets, order, num_steps))
    rate = num_steps / (time.perf_counter() - start)
    step = int(optimizer.iterations)
    metrics = evaluate(net, test, binary)
    manager.save(checkpoint_number=step)
    logging.info(
        "step %d/%d  train loss %.5f  test loss %.5f  test mse %.5f"
        "  test acc %.4f  %.0f steps/s", step, config.max_step_train,
        train_loss, metrics["loss"], metrics["mse"], metrics["accuracy"], rate)
  metrics["loop_seconds"] = time.perf_counter() - loop_start
  return metrics
