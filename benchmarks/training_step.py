"""StudentNet training speed: MentorNet and MentorMix vs baseline step, our
loop vs Keras fit.

  python benchmarks/training_step.py

CifarNet ("inception") at batch 128 on the demo data, in one process on one
machine. Rounds alternate the contenders (our baseline step, our MentorNet
step with the shipped PD curriculum, our MentorMix step with the same
curriculum, with and without the second weighting, and Keras `model.fit` on
the same model and pipeline) and the median time of each is kept. Writes
benchmarks/results/training_step.{md,json}.
Targets: MentorNet step / baseline step <= 1.03; our images/s / fit's >= 1.0.
MentorMix runs the network forward twice and backward once (through the
mixed batch only), so it is expected near 1.3-1.5x the baseline step.
"""

import dataclasses
import os
import platform
import statistics
import time

from absl import app
from absl import flags
import keras
import tensorflow as tf

import hostinfo
from mentornet import training
from mentornet.data import inputs
from mentornet.models import students
from mentornet.training import build

flags.DEFINE_string("data_dir", "data/demo/cifar10/0.4", "Training records.")
flags.DEFINE_integer("steps", 40, "Timed steps per round.")
flags.DEFINE_integer("rounds", 5, "Rounds (the median is kept).")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where to write.")
FLAGS = flags.FLAGS
PD = "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd"
BATCH = 128


def our_step(use_mentornet, dataset, mentormix=None):
  """A callable timing `steps` steps of our loop; compiled and warmed up.

  `mentormix`: None (MentorNet or baseline step), or `second_reweight` of a
  MentorMix step (alpha 8, no example drop-out, weights averaged as its
  script does).
  """
  config = training.TrainConfig.from_flat(
      train_log_dir="",
      data_dir=FLAGS.data_dir,
      studentnet="inception",
      use_mentornet=use_mentornet,
      trained_mentornet_dir=PD,
      loss_p_percentile=0.75,
      example_dropout_rates="0.5,17,0.05,83")
  extra = {}
  if mentormix is not None:
    config = dataclasses.replace(config,
                                 use_mentormix=True,
                                 second_reweight=mentormix,
                                 mixup_alpha=8.0,
                                 example_dropout_rates="0.0,100",
                                 ema_decay=0.9999)
  model, _, optimizer, curriculum = training.build_training(config, 5000)
  if mentormix is not None:
    extra = {
        "mixed_curriculum": build.make_mixed_curriculum(config),
        "weight_average": build.make_weight_average(config, model)
    }
  step = training.build_step(config, tf.distribute.get_strategy(), model,
                             optimizer, curriculum, BATCH, **extra)
  iterator = iter(dataset)

  def timed(n):
    start = time.perf_counter()
    for _ in range(n):
      metrics = step(next(iterator))
    float(metrics["total_loss"])  # wait for the last step
    return time.perf_counter() - start

  timed(10)
  return timed


def curriculum_alone():
  """Seconds per call of the MentorNet curriculum on 128 losses, compiled."""
  config = training.TrainConfig.from_flat(
      train_log_dir="",
      data_dir=FLAGS.data_dir,
      use_mentornet=True,
      trained_mentornet_dir=PD,
      example_dropout_rates="0.5,17,0.05,83")
  curriculum = training.make_curriculum(config)
  weights = tf.function(lambda loss, step: curriculum(loss, step).weights)
  loss = tf.random.uniform([BATCH], 0, 5)
  weights(loss, tf.constant(0, tf.int64))
  start = time.perf_counter()
  for i in range(500):
    out = weights(loss, tf.constant(i, tf.int64))
  out.numpy()
  return (time.perf_counter() - start) / 500


def keras_fit(dataset):
  """A callable timing `steps` steps of Keras `model.fit`; warmed up."""
  config = training.TrainConfig.from_flat(train_log_dir="",
                                          data_dir=FLAGS.data_dir,
                                          studentnet="inception")
  model = build.build_model(config)
  model.compile(
      optimizer=keras.optimizers.SGD(0.1),
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  pairs = dataset.map(lambda b: (b["image"], b["label"]))

  def timed(n):
    start = time.perf_counter()
    model.fit(pairs, epochs=1, steps_per_epoch=n, verbose=0)
    return time.perf_counter() - start

  timed(10)
  return timed


def main(argv):
  del argv
  dataset = inputs.train_dataset(FLAGS.data_dir, "cifar10",
                                 students.get("inception").pad, BATCH)
  contenders = {
      "baseline": our_step(False, dataset),
      "mentornet": our_step(True, dataset),
      "mentormix": our_step(True, dataset, mentormix=False),
      "mentormix_2nd": our_step(True, dataset, mentormix=True),
      "keras_fit": keras_fit(dataset)
  }
  times = {name: [] for name in contenders}
  for _ in range(FLAGS.rounds):
    for name, timed in contenders.items():
      times[name].append(timed(FLAGS.steps) / FLAGS.steps)
  step = {n: statistics.median(t) for n, t in times.items()}
  result = {
      "machine":
          f"{platform.machine()}, {os.cpu_count()} CPU cores",
      "model":
          "CifarNet (inception)",
      "batch_size":
          BATCH,
      "step_seconds": {
          n: round(s, 4) for n, s in step.items()
      },
      "images_per_second": {
          n: round(BATCH / s, 1) for n, s in step.items()
      },
      "mentornet_over_baseline":
          round(step["mentornet"] / step["baseline"], 3),
      "ours_over_keras_fit":
          round(step["keras_fit"] / step["baseline"], 3),
      "mentormix_over_mentornet":
          round(step["mentormix"] / step["mentornet"], 3),
      "mentormix_over_baseline":
          round(step["mentormix"] / step["baseline"], 3),
      "mentormix_2nd_over_mentormix":
          round(step["mentormix_2nd"] / step["mentormix"], 3),
      "curriculum_alone_ms":
          round(curriculum_alone() * 1000, 2),
  }
  ips = result["images_per_second"]
  lines = [
      "# StudentNet training step speed", "",
      "Command: `python benchmarks/training_step.py` (CifarNet, batch 128, "
      f"demo data, {FLAGS.rounds} alternating rounds of {FLAGS.steps} steps, "
      "medians).", f"Machine: {result['machine']}.", "",
      "| contender | s/step | images/s |", "|---|---|---|",
      *[f"| {n} | {result['step_seconds'][n]} | {ips[n]} |" for n in step], "",
      "| ratio | measured | target |", "|---|---|---|",
      f"| MentorNet step / baseline step | {result['mentornet_over_baseline']}"
      " | <= 1.03 |",
      f"| our images/s / Keras fit images/s | {result['ours_over_keras_fit']} |"
      " >= 1.0 |", f"| MentorMix step / MentorNet step | "
      f"{result['mentormix_over_mentornet']} | (cost, no target) |",
      f"| MentorMix step / baseline step | "
      f"{result['mentormix_over_baseline']} | (cost, no target) |",
      f"| MentorMix with second weighting / without | "
      f"{result['mentormix_2nd_over_mentormix']} | (cost, no target) |", "",
      "MentorMix's step runs the network forward twice (the noisy batch for "
      "the curriculum's weights, then the mixed batch) and backward once, "
      "through the mixed batch only; it mixes images and one-hot labels "
      "(partners drawn per example, a Beta draw each) and updates the moving "
      "average of every trainable weight (decay 0.9999) that evaluation "
      "scores. Its curriculum here has no example drop-out (its script's "
      "default), so all 128 weights are computed and used.", "",
      "Both inception steps minimise what the original inception scripts did:"
      " the (weighted) mean cross-entropy, without the declared fc L2 decay, "
      "so the ratio is the cost of the curriculum; with these drop-out rates "
      "half the weights are 0 in the first 17 epochs, and such steps run "
      "faster (keras_fit.md measures the curriculum without drop-out too). "
      "The curriculum itself (percentile, "
      "moving average, MentorNet, burn-in, drop-out on 128 losses) costs "
      f"{result['curriculum_alone_ms']} ms a step when run alone.",
      "Our loop and `model.fit` run the same model and input pipeline; our "
      "step also computes the curriculum (uniform here) and the summaries' "
      "metrics. XLA (`--jit_compile`) is off: on this CPU it is slower than "
      "TensorFlow's oneDNN kernels."
  ]
  hostinfo.write_results(FLAGS.results_dir, "training_step", result, lines)


if __name__ == "__main__":
  app.run(main)
