"""The evaluation CSV drawn as curves: accuracy and loss per checkpoint.

`draw_csv("runs/x/eval.csv")` writes `runs/x/eval.png` beside it; the eval
job redraws it after every row it adds.
"""

import csv
import os

from mentornet import files


def png_path(csv_path):
  """`runs/x/eval.csv` -> `runs/x/eval.png`."""
  return os.path.splitext(csv_path)[0] + ".png"


def read_rows(csv_path):
  """(steps, accuracies, losses) of an evaluation CSV, in step order."""
  with open(csv_path, newline="") as f:
    rows = sorted((int(r["step"]), float(r["accuracy"]), float(r["loss"]))
                  for r in csv.DictReader(f))
  return tuple(list(column) for column in zip(*rows)) if rows else ([], [], [])


def pyplot():
  """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def save_png(fig, path):
  """Writes `fig` to the PNG `path` atomically (a reader never sees half a
  picture) and closes it; returns `path`."""
  try:
    with files.atomic_file(path, "wb") as f:
      fig.savefig(f, format="png", dpi=90)
  finally:
    pyplot().close(fig)
  return path


def legend_or_note(axis, note):
  """The axis's legend, or, when nothing was drawn on it, `note` in its
  middle: never an empty panel without a word."""
  if axis.has_data():
    axis.legend(fontsize=8)
  else:
    axis.text(0.5,
              0.5,
              note,
              ha="center",
              va="center",
              transform=axis.transAxes)


def draw_csv(csv_path, title=None):
  """Draws test accuracy and loss per checkpoint; returns the PNG's path."""
  plt = pyplot()
  steps, accuracy, loss = read_rows(csv_path)
  fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
  left.plot(steps, accuracy, marker="o", markersize=4)
  left.set_xlabel("step")
  left.set_ylabel("test accuracy")
  right.plot(steps, loss, marker="o", markersize=4, color="tab:red")
  right.set_xlabel("step")
  right.set_ylabel("test loss")
  for axis in (left, right):
    axis.grid(alpha=0.3)
  fig.suptitle(title or os.path.dirname(os.path.abspath(csv_path)), fontsize=9)
  fig.tight_layout()
  return save_png(fig, png_path(csv_path))
