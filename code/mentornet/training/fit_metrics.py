"""The epoch metrics `fit` reports for a curriculum model (`MentorNetModel`,
`MentorMixModel`), updated from each step's `step.StepResult`."""

import keras
import tensorflow as tf

from mentornet.curriculum import objective as objective_lib

# Epoch means over the examples (the first three) or the steps (the
# curriculum's own statistics, reported when the curriculum has them).
CURRICULUM_METRICS = ("weighted_loss", "mean_weight", "data_util",
                      "percentile_loss", "moving_average")
# Reported when the labels come with their clean labels.
NOISE_METRICS = ("weight_share_clean", "mean_weight_clean", "mean_weight_noisy")


def trackers(curriculum_stats):
  """{name: keras.metrics.Mean} of the metrics reported for a curriculum
  with the statistics `curriculum_stats` (its `STATS`)."""
  reported = (
      CURRICULUM_METRICS[:3] +
      tuple(k for k in CURRICULUM_METRICS[3:] if k in curriculum_stats) +
      NOISE_METRICS)
  return {name: keras.metrics.Mean(name=name) for name in reported}


def update_curriculum_trackers(trackers, loss_metric, result):
  """Epoch means: over examples, from this replica's batch, and over steps
  of the curriculum's statistics (`trackers`: {name: keras.metrics.Mean};
  `loss_metric`: Keras' own "loss")."""
  loss = tf.cast(result.losses, tf.float32)
  loss_metric.update_state(loss)
  trackers["weighted_loss"].update_state(loss * result.weights)
  trackers["mean_weight"].update_state(result.weights)
  # The curriculum's own statistic: the share of this batch it used.
  trackers["data_util"].update_state(result.metrics["data_util"],
                                     sample_weight=tf.shape(loss)[0])
  for name in CURRICULUM_METRICS[3:]:
    if name in trackers and name in result.metrics:
      trackers[name].update_state(result.metrics[name])


def update_noise_trackers(trackers, weights, labels, clean):
  """Epoch values of the noise metrics: the correctly labelled examples'
  share of the summed weight, and the mean weights of both groups."""
  clean_ones, noisy = objective_lib.noise_masks(labels, clean)
  trackers["weight_share_clean"].update_state(clean_ones,
                                              sample_weight=weights *
                                              (clean_ones + noisy))
  trackers["mean_weight_clean"].update_state(weights, sample_weight=clean_ones)
  trackers["mean_weight_noisy"].update_state(weights, sample_weight=noisy)
