"""The training step: the one definition both drivers run.

`train_step` is one replica's step: the forward pass, per-example losses,
the curriculum's weights, the minimised loss (`curriculum.weighted_objective`)
and one optimizer update. The scripts' loop (`training.loop`, compiled and
distributed with its stop and save requests) and `model.fit`
(`training.keras_model.MentorNetModel.train_step`) both call it, so they
weight, regularise, update and report alike.
"""

import collections

import tensorflow as tf

from mentornet.curriculum import objective as objective_lib

StepResult = collections.namedtuple(
    "StepResult", ["metrics", "losses", "weights", "predictions"])

# Metrics that are this replica's share of a sum over the global batch
# (summed over replicas); every other metric is the same on every replica.
SUM_METRICS = ("orig_loss", "weighted_loss", "decay_loss", "sum_v",
               "mean_weight") + objective_lib.NOISE_SUMS


def sparse_softmax_cross_entropy(labels, logits):
  """The original scripts' per-example loss."""
  return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)


def train_step(model, optimizer, curriculum, images, labels,
               clean_labels=None, *, regularization,
               loss_fn=sparse_softmax_cross_entropy, global_batch=None):
  """One replica's training step.

  Args:
    model: a Keras model from images to predictions (its `losses` are the
      regularisation losses).
    optimizer: a built Keras optimizer; its `iterations` is the global step.
    curriculum: a curriculum layer (`curriculum.MentorNetCurriculum` or
      `curriculum.UniformCurriculum`).
    images: this replica's inputs.
    labels: this replica's (noisy) labels, as `loss_fn` takes them.
    clean_labels: int [b] clean labels (-1: unknown), or None: then no noise
      diagnostics are computed.
    regularization: how `model.losses` enter the loss, one of
      `config.REGULARIZATIONS`.
    loss_fn: `(labels, predictions) -> [b]` per-example losses.
    global_batch: the examples of this step over all replicas, if known.

  Returns:
    `StepResult(metrics, losses, weights, predictions)`: the metrics
    (`SUM_METRICS` as this replica's shares, plus the curriculum's own
    statistics), and this replica's per-example losses, weights and
    predictions.
  """
  with tf.GradientTape() as tape:
    predictions = model(images, training=True)
    losses = loss_fn(labels, predictions)
    objective = objective_lib.weighted_objective(
        losses, curriculum, optimizer.iterations, model.losses,
        regularization, global_batch)
    scaled = optimizer.scale_loss(objective.total)
  variables = model.trainable_variables
  optimizer.apply(tape.gradient(scaled, variables), variables)
  metrics = dict(objective.metrics)
  if clean_labels is not None:
    metrics.update(objective_lib.noise_sums(
        objective.weights, class_ids(labels), clean_labels))
  return StepResult(metrics, losses, objective.weights, predictions)


def class_ids(labels):
  """Class ids [b] of sparse ([b] or [b, 1]) or one-hot/smoothed labels."""
  if labels.shape.rank == 1 or labels.shape[-1] == 1:
    return tf.reshape(labels, [-1])
  return tf.argmax(labels, axis=-1)
