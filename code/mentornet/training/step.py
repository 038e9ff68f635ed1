"""The training steps: the one definition each that both drivers run.

`train_step` is one replica's MentorNet step: the forward pass, per-example
losses, the curriculum's weights, the minimised loss
(`curriculum.weighted_objective`) and one optimizer update. `mentormix_step`
is MentorMix's: weights from a first pass, mixup guided by them, a second
pass on the mixed batch, optionally weighted again. The scripts' loop
(`training.loop`, compiled and distributed with its stop and save requests)
and `model.fit` (`training.keras_model`) both call them, so they weight,
regularise, update and report alike.
"""

import collections

import tensorflow as tf

from mentornet.curriculum import layers
from mentornet.curriculum import mentormix
from mentornet.curriculum import objective as objective_lib
from mentornet.models import precision
from mentornet.models import students

# `weights` weigh the minimised losses; `curriculum_weights` are the
# curriculum's weights of the batch's own examples (the same for
# `train_step`; MentorMix's first weighting), which the noise diagnostics
# describe, and `curriculum_losses` the losses it weighed (MentorMix's first
# pass), which the label evidence sums.
StepResult = collections.namedtuple("StepResult", [
    "metrics", "losses", "weights", "predictions", "curriculum_weights",
    "curriculum_losses"
])

# Metrics that are this replica's share of a sum over the global batch
# (summed over replicas); every other metric is the same on every replica.
SUM_METRICS = ("orig_loss", "weighted_loss", "decay_loss", "sum_v",
               "mean_weight") + objective_lib.NOISE_SUMS


def train_step(model,
               optimizer,
               curriculum,
               images,
               labels,
               clean_labels=None,
               *,
               regularization,
               loss_fn=students.example_loss,
               global_batch=None,
               evidence=None,
               ids=None):
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
    evidence, ids: a `curriculum.evidence.LabelEvidence` and this replica's
      int [b] example rows: the step's losses and weights are added to it
      (`keep_evidence`). Nothing is kept when either is None.

  Returns:
    `StepResult(metrics, losses, weights, predictions)`: the metrics
    (`SUM_METRICS` as this replica's shares, plus the curriculum's own
    statistics), and this replica's per-example losses, weights and
    predictions.
  """
  step_taken = tf.identity(optimizer.iterations)  # read before the update
  objective, losses, predictions = _weighted_update(model, optimizer,
                                                    curriculum, images, labels,
                                                    loss_fn, regularization,
                                                    global_batch)
  metrics = dict(objective.metrics)
  if clean_labels is not None:
    metrics.update(
        objective_lib.noise_sums(objective.weights, class_ids(labels),
                                 clean_labels))
  result = StepResult(metrics, losses, objective.weights, predictions,
                      objective.weights, losses)
  keep_evidence(evidence, ids, curriculum, step_taken, result)
  return result


def keep_evidence(evidence, ids, curriculum, step_taken, result):
  """Adds a step's curriculum losses and weights to the label evidence (the
  examples `ids`; after the curriculum's burn-in only, by `step_taken`, the
  step as it was before the update). Does nothing when `evidence` or `ids`
  is None."""
  if evidence is None or ids is None:
    return
  evidence.update(ids, result.curriculum_losses, result.curriculum_weights,
                  curriculum.after_burn_in(step_taken))


def _weighted_update(model, optimizer, curriculum, images, labels, loss_fn,
                     regularization, global_batch):
  """Forward pass, weighted objective and one optimizer update: the part of
  both steps that has a gradient. Returns (objective, losses,
  predictions)."""
  with tf.GradientTape() as tape:
    predictions = forward(model, images)
    losses = loss_fn(labels, predictions)
    objective = objective_lib.weighted_objective(losses, curriculum,
                                                 optimizer.iterations,
                                                 model.losses, regularization,
                                                 global_batch)
    scaled = optimizer.scale_loss(objective.total)
  variables = model.trainable_variables
  precision.apply(optimizer, tape.gradient(scaled, variables), variables)
  return objective, losses, predictions


def forward(model, images):
  """The model's training-mode outputs as float32, whatever precision it
  computes in: the softmax, the losses and the curriculum are float32
  (`models.precision`). A float32 model's outputs are returned as they
  are."""
  return tf.cast(model(images, training=True), tf.float32)


def class_ids(labels):
  """Class ids [b] of sparse ([b] or [b, 1]) or one-hot/smoothed labels."""
  if labels.shape.rank == 1 or labels.shape[-1] == 1:
    return tf.reshape(labels, [-1])
  return tf.argmax(labels, axis=-1)


def softmax_cross_entropy(labels, logits):
  """Per-example cross-entropy against one-hot or mixed (soft) labels."""
  return tf.nn.softmax_cross_entropy_with_logits(labels, logits)


def batch_norm_statistics(model):
  """The moving means and variances of a model's batch-norm layers."""
  return [
      v for v in model.non_trainable_variables
      if v.path.rsplit("/", 1)[-1] in ("moving_mean", "moving_variance")
  ]


def _first_pass_losses(model, images, labels, loss_fn):
  """MentorMix's first pass: per-example losses in training mode, with the
  batch-norm moving averages left as they were (the original graph never
  ran the first pass's update ops)."""
  statistics = batch_norm_statistics(model)
  saved = [tf.identity(v) for v in statistics]
  losses = tf.stop_gradient(loss_fn(labels, forward(model, images)))
  for variable, value in zip(statistics, saved):
    variable.assign(value)
  return losses


def mentormix_step(model,
                   optimizer,
                   curriculum,
                   mixed_curriculum,
                   images,
                   labels,
                   clean_labels=None,
                   *,
                   regularization,
                   mixup_alpha,
                   seed,
                   loss_fn=softmax_cross_entropy,
                   global_batch=None,
                   evidence=None,
                   ids=None):
  """One replica's MentorMix step, as the original `cifar_train_mentormix.py`.

  1. A first pass in training mode gives per-example losses; the batch-norm
     moving averages are left as they were (the original graph never ran the
     first pass's update ops). `curriculum` weighs them ("individual").
  2. Mixup guided by those weights (`curriculum.mentormix`), with draws
     keyed by (seed, step, replica); no mixing when `mixup_alpha` <= 0.
  3. A second pass on the mixed batch, with gradient: the mixed losses are
     weighted again by `mixed_curriculum` (the original's second reweight,
     moving average "mixed"), or by a uniform one (their mean).

  Args:
    model, optimizer: as `train_step`.
    curriculum: the first weighting.
    mixed_curriculum: the second weighting (uniform without the 2nd reweight).
    images: this replica's images.
    labels: float [b, K] one-hot labels.
    clean_labels: int [b] or None (the first weighting's noise diagnostics).
    regularization, mixup_alpha, seed: the run's.
    loss_fn: `(soft labels, logits) -> [b]`.
    global_batch: the examples of this step over all replicas, if known.
    evidence, ids: as `train_step` (the first pass's losses are kept).

  Returns:
    `StepResult`: the metrics of the minimised objective and the first
    weighting's `first_*` statistics, and the second pass's losses, weights
    and predictions.
  """
  global_step = optimizer.iterations
  step_taken = tf.identity(global_step)  # read before the update
  first_losses = _first_pass_losses(model, images, labels, loss_fn)
  first = curriculum(first_losses, global_step)
  mixed_images, mixed_labels = _guided_mix(images, labels, first.weights,
                                           mixup_alpha, seed, global_step)
  objective, losses, predictions = _weighted_update(model, optimizer,
                                                    mixed_curriculum,
                                                    mixed_images, mixed_labels,
                                                    loss_fn, regularization,
                                                    global_batch)
  metrics = _mentormix_metrics(objective, first, mixed_curriculum, labels,
                               clean_labels)
  result = StepResult(metrics, losses, objective.weights, predictions,
                      first.weights, first_losses)
  keep_evidence(evidence, ids, curriculum, step_taken, result)
  return result


def _guided_mix(images, labels, weights, mixup_alpha, seed, global_step):
  """Mixup guided by the first weighting (`curriculum.mentormix`), its draws
  keyed by (seed, step, replica); the batch unmixed when `mixup_alpha` <=
  0."""
  if mixup_alpha <= 0:
    return images, labels
  batch_draws = mentormix.draws(weights, mixup_alpha,
                                mentormix.step_seed(seed, global_step))
  return mentormix.mix(images, labels, weights, batch_draws)


def _mentormix_metrics(objective, first, mixed_curriculum, labels,
                       clean_labels):
  """The minimised objective's metrics, the first weighting's statistics as
  `first_*` and its noise sums."""
  metrics = dict(objective.metrics)
  metrics.update({
      f"first_{k}": v for k, v in first.stats.items() if k != "sum_v"
  })  # (means; sum_v is a replica's share)
  if isinstance(mixed_curriculum, layers.UniformCurriculum):
    # As the original: its data utilisation is that of the weights used.
    metrics["data_util"] = first.stats["data_util"]
  if clean_labels is not None:
    metrics.update(
        objective_lib.noise_sums(first.weights, class_ids(labels),
                                 clean_labels))
  return metrics
