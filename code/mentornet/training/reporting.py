"""What a training run reports: TensorBoard summaries, progress lines, the
closing line (README's "Training a StudentNet" says what each value is)."""

import shlex

from absl import logging
import tensorflow as tf

from mentornet.curriculum import objective as objective_lib
from mentornet.runs import run_dir

CONTROL_METRICS = ("stop_requests", "save_requests")
SUMMARY_NAMES = {
    "orig_loss": "train/loss",
    "weighted_loss": "train/weighted_loss",
    "total_loss": "train/total_loss",
    "decay_loss": "train/decay_loss",
    "data_util": "mentornet/data_util",
    "sum_v": "mentornet/sum_v",
    "percentile_loss": "mentornet/percentile_loss",
    "moving_average": "mentornet/moving_average",
    "dropout_rate": "mentornet/dropout_rate",
    "epoch": "mentornet/epoch",
    "mean_weight": "mentornet/mean_weight"
}
NOT_SUMMARISED = CONTROL_METRICS + objective_lib.NOISE_SUMS


def _summary_name(key):
  """The TensorBoard tag of a metric (MentorMix's first weighting's
  statistics as `mentormix/individual_*`)."""
  if key.startswith("first_"):
    return f"mentormix/individual_{key[len('first_'):]}"
  return SUMMARY_NAMES.get(key, f"mentornet/{key}")


def write_summaries(writer, metrics, learning_rate, step, noise=None):
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


def progress(step, config, metrics, images_per_second, first=False):
  """One progress line; README's "Training a StudentNet" says what each is.

  The first line's rate includes compilation, so it gives no ETA.
  """
  if first:
    when = " (first step, with compilation)"
  else:
    left = (config.optimization.max_number_of_steps -
            step) * config.data.batch_size
    eta = left / images_per_second if images_per_second > 0 else 0
    when = f"  ETA {int(eta // 3600)}h{int(eta % 3600 // 60):02d}m"
  logging.info(
      "step %d/%d  loss %.4f  weighted %.4f  total %.4f  "
      "data_util %.3f  %.0f images/s%s", step,
      config.optimization.max_number_of_steps, float(metrics["orig_loss"]),
      float(metrics["weighted_loss"]), float(metrics["total_loss"]),
      float(metrics["data_util"]), images_per_second, when)


def closing_line(config, steps_done, metrics):
  """What a finished run prints last: steps, loss, where its results are."""
  return (
      f"done: {steps_done} steps to step {config.optimization.max_number_of_steps}, "
      f"final loss {float(metrics['orig_loss']):.4f} (weighted "
      f"{float(metrics['weighted_loss']):.4f}); checkpoints, summaries "
      f"and {run_dir.CONFIG_FILE} are in {config.run.train_log_dir}; look at "
      f"them with: tensorboard --logdir {shlex.quote(config.run.train_log_dir)}"
  )
