"""The compiled training step over one distributed batch (`build_step`).

The scripts' loop runs it; so do the tests and benchmarks that compare the
loop with `model.fit`. Each replica runs `step.train_step` or
`step.mentormix_step`; the metrics are reduced over replicas (summed where
`SUM_METRICS` says, else averaged).
"""

import tensorflow as tf

from mentornet import config as config_lib
from mentornet.training import build
from mentornet.training import reporting
from mentornet.training import step as step_lib

CONTROL_METRICS = reporting.CONTROL_METRICS
# Metrics summed over replicas; every other one is the same on each.
SUM_METRICS = step_lib.SUM_METRICS + CONTROL_METRICS


def build_step(config,
               strategy,
               model,
               optimizer,
               curriculum,
               global_batch,
               mixed_curriculum=None,
               weight_average=None,
               evidence=None):
  """The compiled training step over one distributed batch.

  Each replica runs `step.train_step` (or, for a MentorMix run,
  `step.mentormix_step` with `mixed_curriculum`) and adds its examples to
  the label evidence (`curriculum.evidence.LabelEvidence`), if any, when the
  batch carries their rows (`index`); then the weight average, if any, is
  updated. The returned tf.function maps a distributed batch, and
  optionally a float32 `[2]` vector of this worker's requests (stop, save),
  to a dict of scalar metrics. The requests are summed over all replicas of
  all workers and returned as `stop_requests` and `save_requests`, so every
  worker takes the same decision at the same step.
  """
  config = build.with_rules(config)

  replica_step = _replica_step(config, model, optimizer, curriculum,
                               global_batch, mixed_curriculum, evidence)
  if config.run.jit_compile and strategy.num_replicas_in_sync == 1:
    replica_step = tf.function(replica_step, jit_compile=True)

  @tf.function
  def step(batch, requests=None):
    if requests is None:
      requests = tf.zeros([2], tf.float32)
    per_replica = strategy.run(replica_step, args=(batch, requests))
    if weight_average is not None:
      weight_average.update(optimizer.iterations - 1)
    metrics = {}
    for key, value in per_replica.items():
      op = (tf.distribute.ReduceOp.SUM
            if key in SUM_METRICS else tf.distribute.ReduceOp.MEAN)
      metrics[key] = strategy.reduce(op, value, axis=None)
    metrics["total_loss"] = metrics["weighted_loss"] + metrics["decay_loss"]
    return metrics

  return step


def _replica_step(config, model, optimizer, curriculum, global_batch,
                  mixed_curriculum, evidence):
  """One replica's step for `build_step`: `step.train_step`, or
  `step.mentormix_step` for a MentorMix run, with this worker's requests,
  keeping the label evidence."""

  def replica_step(batch, requests):
    result = _run_step(config, model, optimizer, curriculum, global_batch,
                       mixed_curriculum, batch, evidence)
    return dict(result.metrics,
                stop_requests=requests[0],
                save_requests=requests[1])

  return replica_step


def _run_step(config, model, optimizer, curriculum, global_batch,
              mixed_curriculum, batch, evidence):
  """`step.train_step` or `step.mentormix_step` on one replica's batch,
  keeping the label evidence of its rows ("index") when `evidence` is
  given."""
  ids = batch.get("index") if evidence is not None else None
  clean_labels = batch.get("clean_label")
  if clean_labels is None:  # a batch without clean labels: none known
    clean_labels = tf.fill(tf.shape(batch["label"]), tf.constant(-1, tf.int64))
  if config.method == config_lib.MENTORMIX:
    return step_lib.mentormix_step(
        model,
        optimizer,
        curriculum,
        mixed_curriculum,
        batch["image"],
        tf.one_hot(batch["label"], model.output_shape[-1]),
        clean_labels,
        regularization=config.optimization.regularization,
        mixup_alpha=config.mentormix.mixup_alpha,
        seed=config.run.seed,
        global_batch=global_batch,
        evidence=evidence,
        ids=ids)
  return step_lib.train_step(model,
                             optimizer,
                             curriculum,
                             batch["image"],
                             batch["label"],
                             clean_labels,
                             regularization=config.optimization.regularization,
                             global_batch=global_batch,
                             evidence=evidence,
                             ids=ids)
