"""Learning MentorNets: training data from v* or from data, and fitting.

Data files hold float32 rows `(loss, loss_diff, label, epoch, v*)`: `tr.npz`
(80%) and `ts.npz` (20%), under the key `data`. The original stored them with
pickle, which runs arbitrary code when loaded; reading such a legacy `.p` file
needs `allow_pickle=True`.
"""

import dataclasses
import hashlib
import os
import time
import zipfile

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from mentornet import checkpoints
from mentornet import mentor
from mentornet import run_dir
from mentornet import vstar

TRAIN_FRACTION = 0.8
DD_PERCENTILES = (40, 50, 60, 75, 80, 90)


def predefined_grid():
  """All (loss, loss_diff, label=0, epoch) rows of the original grid.

  The axes are built exactly as the original's `np.arange` calls, float
  rounding included: loss 0, 0.1, ..., 9.9 then 10, 11, ..., 29 (120 values);
  loss_diff -5.0, -4.9, ..., 4.9 (100 values; NumPy steps by
  `(-5 + 0.1) - (-5)`, so the point meant as 0 is -1.78e-14 and hard example
  mining gives it v* = 0); epoch 0..99 (100): 1,200,000 rows.
  """
  losses = np.concatenate([np.arange(0, 10, 0.1), np.arange(10, 30, 1)])
  diffs = np.arange(-5, 5, 0.1)
  epochs = np.arange(0, 100, 1)
  loss, diff, epoch = np.meshgrid(losses, diffs, epochs, indexing="ij")
  return np.stack([loss.ravel(), diff.ravel(), np.zeros(loss.size),
                   epoch.ravel()], axis=1).astype(np.float64)


def grid_mse(net, vstar_fn, gamma=None, num_points=20000, seed=12345):
  """MSE between MentorNet weights and v* on random points of the grid.

  Returns:
    (mse, max absolute error).
  """
  grid = predefined_grid()
  rows = grid[np.random.default_rng(seed).integers(0, len(grid), num_points)]
  want = vstar.get_vstar(vstar_fn)(rows, gamma)
  got = net.weights(rows.astype(np.float32)).numpy()
  return float(np.mean((got - want) ** 2)), float(np.max(np.abs(got - want)))


def split_rows(rows, seed):
  """Shuffles rows and splits them 80/20 into (train, test)."""
  rows = np.random.default_rng(seed).permutation(rows)
  n_train = int(len(rows) * TRAIN_FRACTION)
  return rows[:n_train].astype(np.float32), rows[n_train:].astype(np.float32)


def save_split(train, test, outdir):
  """Writes `tr.npz` and `ts.npz` into `outdir`."""
  os.makedirs(outdir, exist_ok=True)
  np.savez(os.path.join(outdir, "tr.npz"), data=train)
  np.savez(os.path.join(outdir, "ts.npz"), data=test)


def generate_predefined(vstar_fn, outdir, sample_size=100000, gamma=None,
                        seed=0):
  """Labels the grid with a predefined v*, keeps `sample_size` random rows.

  Returns:
    (train, test) arrays of rows (loss, loss_diff, label, epoch, v*).
  """
  fn = vstar.get_vstar(vstar_fn)
  grid = predefined_grid()
  if not 0 < sample_size <= len(grid):
    raise ValueError(f"sample_size {sample_size} must lie in [1, {len(grid)}]")
  rows = np.random.default_rng(seed).permutation(grid)[:sample_size]
  rows = np.concatenate([rows, fn(rows, gamma)[:, None]], axis=1)
  train, test = split_rows(rows, seed)
  save_split(train, test, outdir)
  return train, test


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
      fields = [x for x in (line.split(",") if "," in line else line.split())
                if x.strip()]
      if not fields:
        continue
      try:
        values = [float(x) for x in fields]
      except ValueError:
        if number == 1 and not rows:  # a header
          continue
        raise ValueError(
            f"{path}:{number}: non-numeric field in '{line.strip()}'; expected"
            " 'id epoch noisy_label clean_label loss'") from None
      if len(values) != 5:
        raise ValueError(
            f"{path}:{number}: expected 5 fields 'id epoch noisy_label "
            f"clean_label loss', got {len(values)}")
      if not all(np.isfinite(values)):
        raise ValueError(f"{path}:{number}: '{line.strip()}' holds NaN or "
                         "Inf; every value must be finite (was the "
                         "StudentNet that made the dump diverging?)")
      rows.append(values)
  if not rows:
    raise ValueError(f"{path}: no rows 'id epoch noisy_label clean_label loss'")
  return np.asarray(rows)


def generate_data_driven(input_csv_filename, outdir, percentiles=DD_PERCENTILES,
                         seed=0):
  """Data-driven MentorNet data from a loss dump, one directory per percentile.

  For each percentile p: `loss_diff = loss - percentile(loss, p)`, label 0,
  v* = 1 where the noisy label equals the clean one. Written to
  `<outdir>/<dump name>_percentile_<p>/{tr,ts}.npz`.

  Returns:
    The list of directories written.
  """
  dump = read_loss_dump(input_csv_filename)
  epoch, noisy, clean, loss = dump[:, 1], dump[:, 2], dump[:, 3], dump[:, 4]
  if np.any(clean < 0):
    raise ValueError(f"{input_csv_filename}: clean labels are missing (-1); "
                     "data-driven MentorNets need records with clean labels")
  name = os.path.splitext(os.path.basename(input_csv_filename))[0]
  written = []
  for p in percentiles:
    rows = np.stack([loss, loss - np.percentile(loss, p), np.zeros_like(loss),
                     epoch, (noisy == clean).astype(np.float64)], axis=1)
    directory = os.path.join(outdir, f"{name}_percentile_{p}")
    save_split(*split_rows(rows, seed), directory)
    written.append(directory)
  return written


def load_rows(path, allow_pickle=False):
  """Rows (loss, loss_diff, label, epoch, v*) from `.npz`, or a legacy pickle.

  Raises:
    ValueError: a pickle without `allow_pickle`, or rows of the wrong shape.
  """
  if path.endswith(".p"):
    if not allow_pickle:
      raise ValueError(
          f"{path} is a pickle file; loading it can run arbitrary code. Pass "
          "--allow_pickle only if you trust it, or regenerate the data as .npz")
    logging.warning("loading pickle file %s (runs code it contains)", path)
    import pickle  # pylint: disable=g-import-not-at-top
    with open(path, "rb") as f:
      data = pickle.load(f, encoding="latin1")
    data = data["data"] if isinstance(data, dict) else data
  else:
    try:
      with np.load(path, allow_pickle=False) as f:
        data = f["data"]
    except (OSError, EOFError, ValueError, KeyError,
            zipfile.BadZipFile) as e:
      raise ValueError(f"{path} is not a readable .npz file of MentorNet rows"
                       f" ({type(e).__name__}: {str(e)[:120]}); remake it "
                       "with data_generator.py") from None
  data = np.asarray(data, np.float32)
  if data.ndim != 2 or data.shape[1] != 5:
    raise ValueError(f"{path}: expected rows (loss, loss_diff, label, epoch, "
                     f"v*) of shape [N, 5], got {list(data.shape)}")
  if len(data) == 0:
    raise ValueError(f"{path}: holds no rows")
  bad = np.flatnonzero(~np.all(np.isfinite(data), axis=1))
  if bad.size:
    raise ValueError(f"{path}: row {bad[0]} holds NaN or Inf "
                     f"({', '.join(f'{x:g}' for x in data[bad[0]])}); "
                     "every value must be finite")
  bad = np.flatnonzero((data[:, 4] < 0) | (data[:, 4] > 1))
  if bad.size:
    raise ValueError(f"{path}: row {bad[0]} has target v* = "
                     f"{data[bad[0], 4]:g}, outside [0, 1]")
  return data


def load_split(data_path, allow_pickle=False):
  """(train, test) rows from `data_path`: `tr.npz`/`ts.npz`, or `tr.p`/`ts.p`."""
  for ext in (".npz", ".p"):
    tr, ts = (os.path.join(data_path, n + ext) for n in ("tr", "ts"))
    if os.path.exists(tr) and os.path.exists(ts):
      return load_rows(tr, allow_pickle), load_rows(ts, allow_pickle)
  raise FileNotFoundError(f"no tr.npz and ts.npz (or legacy tr.p, ts.p) in "
                          f"'{data_path}'")


@dataclasses.dataclass
class TrainConfig:
  """Flags of `training_mentornet/train.py`."""
  train_dir: str
  data_path: str
  mini_batch_size: int = 32
  max_step_train: int = 30000
  learning_rate: float = 0.1
  seed: int = 0
  allow_pickle: bool = False


def is_binary(targets):
  """The original reader's `is_binary_label`: the targets take exactly the
  two values 0 and 1 (then sigmoid cross-entropy; otherwise squared error of
  the sigmoid, e.g. for the all-ones baseline curriculum)."""
  return set(np.unique(targets).tolist()) == {0.0, 1.0}


def _loss_fn(binary):
  def loss_fn(logits, targets):
    if binary:
      return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
          labels=targets, logits=logits))
    return tf.reduce_mean(tf.square(tf.sigmoid(logits) - targets))
  return loss_fn


def evaluate(net, rows, binary):
  """Test metrics of `net` on rows: loss, MSE of the weights and accuracy."""
  logits = net(rows[:, :4])[:, 0]
  targets = tf.constant(rows[:, 4])
  weights = tf.sigmoid(logits)
  return {"loss": float(_loss_fn(binary)(logits, targets)),
          "mse": float(tf.reduce_mean(tf.square(weights - targets))),
          "clean_fraction": float(np.mean(rows[:, 4] > 0.5)),
          "accuracy": float(tf.reduce_mean(tf.cast(
              tf.equal(weights > 0.5, targets > 0.5), tf.float32)))}


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
    raise ValueError(f"learning_rate {config.learning_rate} must be a "
                     "positive number")
  train, test = load_split(config.data_path, config.allow_pickle)
  if config.mini_batch_size <= 0 or config.mini_batch_size > len(train):
    raise ValueError(f"mini_batch_size {config.mini_batch_size} must lie in "
                     f"[1, {len(train)}] (the number of training rows)")
  record = _run_record(config, train, test)
  try:
    os.makedirs(config.train_dir, exist_ok=True)
    lock = run_dir.DirectoryLock(config.train_dir).acquire()
  except OSError as e:
    raise ValueError(f"cannot use --train_dir={config.train_dir}: {e}"
                     ) from None
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
  record["data"] = {"train_rows": len(train), "test_rows": len(test),
                    "content": digest.hexdigest()[:16]}
  return record


def _check_record(train_dir, record):
  """Refuses to resume a MentorNet with other settings or data."""
  saved = run_dir.read_json(os.path.join(train_dir, CONFIG_FILE))
  if saved is None:
    if checkpoints.on_disk(train_dir, CHECKPOINT_NAME):
      logging.warning("%s holds MentorNet checkpoints but no %s; adopting "
                      "this run's settings", train_dir, CONFIG_FILE)
    return
  differing = [f"{k}: {saved.get(k)!r} there, {v!r} here"
               for k, v in record.items() if saved.get(k) != v and k != "data"]
  if saved.get("data") != record["data"]:
    differing.append("the training data (--data_path) differ")
  if differing:
    raise ValueError(f"--train_dir={train_dir} holds a MentorNet trained with"
                     f" other settings ({'; '.join(differing)}); use another "
                     "--train_dir, or the same flags and data")


def _fit(config, train, test):
  """The training loop of `train_mentornet`, inside the directory lock."""
  binary = is_binary(train[:, 4])
  net = mentor.MentorNet(seed=config.seed)
  schedule = keras.optimizers.schedules.ExponentialDecay(
      config.learning_rate, 1000, 0.9, staircase=True)
  optimizer = keras.optimizers.Adam(schedule, epsilon=1e-8,
                                    global_clipnorm=5.0)
  optimizer.build(net.trainable_variables)
  parts = {"mentornet": net, "optimizer": optimizer}
  latest = checkpoints.resume(
      config.train_dir, CHECKPOINT_NAME, parts,
      lambda: all(np.all(np.isfinite(v.numpy())) for v in net.variables))
  if latest:
    logging.info("resumed from %s", latest)
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(**parts), config.train_dir, max_to_keep=2,
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
    logging.info("step %d/%d  train loss %.5f  test loss %.5f  test mse %.5f"
                 "  test acc %.4f  %.0f steps/s", step, config.max_step_train,
                 train_loss, metrics["loss"], metrics["mse"],
                 metrics["accuracy"], rate)
  metrics["loop_seconds"] = time.perf_counter() - loop_start
  return metrics
