"""The evaluation CSV drawn as curves: accuracy and loss per checkpoint.

`draw_csv("runs/x/eval.csv")` writes `runs/x/eval.png` beside it; the eval
job redraws it after every row it adds.
"""

import csv
import os


def png_path(csv_path):
  """`runs/x/eval.csv` -> `runs/x/eval.png`."""
  return os.path.splitext(csv_path)[0] + ".png"


def read_rows(csv_path):
  """(steps, accuracies, losses) of an evaluation CSV, in step order."""
  with open(csv_path, newline="") as f:
    rows = sorted((int(r["step"]), float(r["accuracy"]), float(r["loss"]))
                  for r in csv.DictReader(f))
  return tuple(list(column) for column in zip(*rows)) if rows else ([], [], [])


def draw_csv(csv_path, title=None):
  """Draws test accuracy and loss per checkpoint; returns the PNG's path."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
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
  path = png_path(csv_path)
  tmp = path + ".tmp.png"
  fig.savefig(tmp, dpi=90)
  plt.close(fig)
  os.replace(tmp, path)
  return path
