"""Runs compared in one picture: test accuracy per checkpoint, and the share
of the weight that went to correctly labelled examples, the training loss and
the learning rate over training, each run one line on shared axes.

`read_run(run_dir)` gathers what a run has: its evaluation CSV (`eval.csv`
in the run's directory, written by `cifar_eval.py --output_csv_file`) and its
TensorBoard summaries (`train/loss`, `train/learning_rate`,
`noise/weight_share_clean`). `draw(runs, path)` draws them; a run lacking a
CSV or summaries is drawn with what it has, and `missing` says in one line
what is not there.
"""

import dataclasses
import logging
import os

from mentornet import errors
from mentornet.evaluation import plot

# (TensorBoard tag, axis label) of the panels drawn from the summaries.
SUMMARY_PANELS = (
    ("noise/weight_share_clean", "share of the weight on clean labels"),
    ("train/loss", "training loss (mean over the batch)"),
    ("train/learning_rate", "learning rate"),
)


@dataclasses.dataclass
class Run:
  """What one run has to draw. `accuracy`: [(step, test accuracy)];
  `series`: {tag: [(step, value)]} of `SUMMARY_PANELS`' tags."""
  label: str
  accuracy: list
  series: dict
  missing: list


def read_scalars(log_dir, prefixes=("",)):
  """{tag: [(step, value)]} of the TensorBoard scalars written in `log_dir`
  (not its subdirectories) whose tags start with one of `prefixes`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  acc = event_accumulator.EventAccumulator(
      log_dir, size_guidance={event_accumulator.TENSORS: 0})
  # Its "No path found after" lines, from TensorBoard's own logger; the
  # logger's level is put back as it was (NOTSET too, so that it keeps
  # following its parents).
  quiet = logging.getLogger("tensorboard")
  level = quiet.level
  quiet.setLevel(logging.WARNING)
  try:
    acc.Reload()
  finally:
    quiet.setLevel(level)
  return {
      tag:
          sorted((e.step, float(tf.make_ndarray(e.tensor_proto)))
                 for e in acc.Tensors(tag))
      for tag in acc.Tags()["tensors"]
      if tag.startswith(tuple(prefixes))
  }


def _has_summaries(run_dir):
  return any(
      name.startswith("events.out.tfevents") for name in os.listdir(run_dir))


def read_run(run_dir, csv_name="eval.csv"):
  """A `Run` of the training run in `run_dir`, labelled by its name.

  Raises:
    MissingInput: `run_dir` is not a directory.
    BadInput: its evaluation CSV cannot be read.
  """
  if not os.path.isdir(run_dir):
    raise errors.MissingInput(f"{run_dir} is not a run's directory")
  label = os.path.basename(os.path.normpath(run_dir))
  missing, accuracy, series = [], [], {}
  csv_path = os.path.join(run_dir, csv_name)
  if os.path.exists(csv_path):
    try:
      steps, values, _ = plot.read_rows(csv_path)
    except (KeyError, ValueError, TypeError) as e:
      raise errors.BadInput(f"{csv_path} is not an evaluation CSV "
                            f"(step,accuracy,loss): {e}") from None
    accuracy = list(zip(steps, values))
  else:
    missing.append(f"no {csv_name} (cifar_eval.py --checkpoint_dir={run_dir} "
                   f"--eval_all --output_csv_file={csv_path} writes it)")
  if _has_summaries(run_dir):
    series = read_scalars(run_dir, tuple(tag for tag, _ in SUMMARY_PANELS))
  else:
    missing.append("no TensorBoard summaries")
  return Run(label, accuracy, series, missing)


def draw(runs, path, title=None):
  """Draws `runs` (a list of `Run`) on shared axes into the PNG `path`,
  written atomically; returns `path`.

  Raises:
    BadInput: no run has anything to draw.
  """
  if not any(r.accuracy or any(r.series.values()) for r in runs):
    raise errors.BadInput("nothing to draw: " + "; ".join(
        f"{r.label}: {', '.join(r.missing)}" for r in runs))
  fig, axes = plot.pyplot().subplots(2, 2, figsize=(10, 7))
  panels = [(None, "test accuracy (per checkpoint)")] + list(SUMMARY_PANELS)
  for axis, (tag, ylabel) in zip(axes.flat, panels):
    for i, run in enumerate(runs):
      points = run.accuracy if tag is None else run.series.get(tag, [])
      if points:
        steps, values = zip(*points)
        axis.plot(steps,
                  values,
                  color=f"C{i}",
                  label=run.label,
                  marker="o" if tag is None else None,
                  markersize=4)
    axis.set_xlabel("step")
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3)
    plot.legend_or_note(axis, "no run has it")
  fig.suptitle(title or " vs ".join(r.label for r in runs), fontsize=10)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  return plot.save_png(fig, path)
