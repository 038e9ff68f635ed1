"""MentorNet training data: rows `(loss, loss_diff, label, epoch, v*)`.

From a predefined curriculum v* on the original's grid, or from a
per-example loss dump (data-driven). Files hold float32 rows: `tr.npz` (80%)
and `ts.npz` (20%), under the key `data`. The original stored them with
pickle, which runs arbitrary code when loaded; reading such a legacy `.p`
file needs `allow_pickle=True`.
"""

import os
import zipfile

from absl import logging
import numpy as np

from mentornet import errors
from mentornet.learning import vstar
from mentornet.evaluation import loss_dump

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
  return np.stack(
      [loss.ravel(),
       diff.ravel(),
       np.zeros(loss.size),
       epoch.ravel()], axis=1).astype(np.float64)


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


def generate_predefined(vstar_fn,
                        outdir,
                        sample_size=100000,
                        gamma=None,
                        seed=0):
  """Labels the grid with a predefined v*, keeps `sample_size` random rows.

  Returns:
    (train, test) arrays of rows (loss, loss_diff, label, epoch, v*).
  """
  fn = vstar.get_vstar(vstar_fn)
  grid = predefined_grid()
  if not 0 < sample_size <= len(grid):
    raise errors.BadInput(
        f"sample_size {sample_size} must lie in [1, {len(grid)}]")
  rows = np.random.default_rng(seed).permutation(grid)[:sample_size]
  rows = np.concatenate([rows, fn(rows, gamma)[:, None]], axis=1)
  train, test = split_rows(rows, seed)
  save_split(train, test, outdir)
  return train, test


def generate_data_driven(input_csv_filename,
                         outdir,
                         percentiles=DD_PERCENTILES,
                         seed=0):
  """Data-driven MentorNet data from a loss dump, one directory per percentile.

  For each percentile p: `loss_diff = loss - percentile(loss, p)`, label 0,
  v* = 1 where the noisy label equals the clean one. Written to
  `<outdir>/<dump name>_percentile_<p>/{tr,ts}.npz`.

  Returns:
    The list of directories written.
  """
  dump = loss_dump.read_loss_dump(input_csv_filename)
  epoch, noisy, clean, loss = dump[:, 1], dump[:, 2], dump[:, 3], dump[:, 4]
  if np.any(clean < 0):
    raise errors.BadInput(
        f"{input_csv_filename}: clean labels are missing (-1); "
        "data-driven MentorNets need records with clean labels")
  name = os.path.splitext(os.path.basename(input_csv_filename))[0]
  written = []
  for p in percentiles:
    rows = np.stack([
        loss, loss - np.percentile(loss, p),
        np.zeros_like(loss), epoch, (noisy == clean).astype(np.float64)
    ],
                    axis=1)
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
      raise errors.BadInput(
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
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as e:
      raise errors.BadInput(
          f"{path} is not a readable .npz file of MentorNet rows"
          f" ({type(e).__name__}: {str(e)[:120]}); remake it "
          "with data_generator.py") from None
  data = np.asarray(data, np.float32)
  if data.ndim != 2 or data.shape[1] != 5:
    raise errors.BadInput(
        f"{path}: expected rows (loss, loss_diff, label, epoch, "
        f"v*) of shape [N, 5], got {list(data.shape)}")
  if len(data) == 0:
    raise errors.BadInput(f"{path}: holds no rows")
  bad = np.flatnonzero(~np.all(np.isfinite(data), axis=1))
  if bad.size:
    raise errors.BadInput(f"{path}: row {bad[0]} holds NaN or Inf "
                          f"({', '.join(f'{x:g}' for x in data[bad[0]])}); "
                          "every value must be finite")
  bad = np.flatnonzero((data[:, 4] < 0) | (data[:, 4] > 1))
  if bad.size:
    raise errors.BadInput(f"{path}: row {bad[0]} has target v* = "
                          f"{data[bad[0], 4]:g}, outside [0, 1]")
  return data


def load_split(data_path, allow_pickle=False):
  """(train, test) rows from `data_path`: `tr.npz`/`ts.npz`, or `tr.p`/`ts.p`."""
  for ext in (".npz", ".p"):
    tr, ts = (os.path.join(data_path, n + ext) for n in ("tr", "ts"))
    if os.path.exists(tr) and os.path.exists(ts):
      return load_rows(tr, allow_pickle), load_rows(ts, allow_pickle)
  raise errors.MissingInput(f"no tr.npz and ts.npz (or legacy tr.p, ts.p) in "
                            f"'{data_path}'")
