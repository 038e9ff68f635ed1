"""What a MentorNet curriculum costs in Keras `model.fit`.

  python benchmarks/keras_fit.py

CifarNet ("inception") at batch 128, in one process: `fit` of the plain Keras
model (mean cross-entropy, Keras' own train step) against `fit` of the same
network wrapped in `keras_model.MentorNetModel` with the shipped MentorNet PD
curriculum (the quick start's flags), the same without example drop-out (its
zero weights make some of the backward pass cheaper), and, to tell the
wrapper's cost from the curriculum's, the wrapper with uniform weights. The batches are 20 augmented
demo batches held in memory and repeated, so the input pipeline costs nothing
measurable. Rounds alternate the contenders; each round is one `fit` of
`--steps` steps; the medians of wall time per step and of process CPU time per
step are kept (many short rounds, medians, not means); every round's time is
in the JSON file. Writes benchmarks/results/keras_fit.{md,json}.
Target: images/s with the curriculum / without >= 0.97, for the slower of
the two curriculum contenders.
"""

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
from mentornet.training import keras_model

flags.DEFINE_string("data_dir", "data/demo/cifar10/0.4", "Training records.")
flags.DEFINE_integer("steps", 20, "Steps per round (one fit call).")
flags.DEFINE_integer("rounds", 15, "Rounds (the median is kept).")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where to write.")
FLAGS = flags.FLAGS
PD = "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd"
BATCH = 128
CONTENDERS = ("fit", "fit_uniform", "fit_mentornet", "fit_mentornet_no_dropout")


def in_memory_batches(n=20):
  """`n` augmented demo batches as (images, labels), repeated forever."""
  source = inputs.train_dataset(FLAGS.data_dir, "cifar10",
                                students.get("inception").pad, BATCH)
  batches = list(source.take(n))
  images = tf.concat([b["image"] for b in batches], 0)
  labels = tf.concat([b["label"] for b in batches], 0)
  # tf.data's autotuner is off: with it, whole fits of this in-memory input
  # ran at exactly 0.255 s a step, whichever the model (seen here).
  options = tf.data.Options()
  options.autotune.enabled = False
  return (tf.data.Dataset.from_tensor_slices((images, labels)).batch(
      BATCH, drop_remainder=True).cache().repeat().with_options(options))


def contender(name, data):
  """A callable running one `fit` of n steps; returns (wall s, CPU s)."""
  keras.utils.set_random_seed(0)
  config = training.TrainConfig.from_flat(train_log_dir="",
                                          data_dir=FLAGS.data_dir,
                                          studentnet="inception")
  student = build.build_model(config)
  if name == "fit":
    model = student
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
  else:
    model = keras_model.MentorNetModel(
        student,
        None if name == "fit_uniform" else PD,
        max_number_of_steps=1500,
        loss_p_percentile=0.75,
        example_dropout_rates=("0.0,100" if name.endswith("no_dropout") else
                               "0.5,17,0.05,83"))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                      reduction=None)
  model.compile(optimizer=keras.optimizers.SGD(0.01),
                loss=loss,
                jit_compile=False)

  def timed(n):
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(data, epochs=1, steps_per_epoch=n, verbose=0)
    return time.perf_counter() - wall, time.process_time() - cpu

  timed(10)  # compile and warm up
  return timed


def main(argv):
  del argv
  data = in_memory_batches()
  runs = {name: contender(name, data) for name in CONTENDERS}
  wall = {name: [] for name in CONTENDERS}
  cpu = {name: [] for name in CONTENDERS}
  for _ in range(FLAGS.rounds):
    for name, timed in runs.items():
      w, c = timed(FLAGS.steps)
      wall[name].append(w / FLAGS.steps)
      cpu[name].append(c / FLAGS.steps)
  step = {n: statistics.median(t) for n, t in wall.items()}
  fastest = {n: min(t) for n, t in wall.items()}
  cpu_step = {n: statistics.median(t) for n, t in cpu.items()}
  ips = {n: BATCH / s for n, s in step.items()}
  result = {
      "host":
          hostinfo.host(),
      "tensorflow":
          tf.__version__,
      "keras":
          keras.__version__,
      "model":
          "CifarNet (inception)",
      "batch_size":
          BATCH,
      "steps_per_round":
          FLAGS.steps,
      "rounds":
          FLAGS.rounds,
      "step_seconds": {
          n: round(s, 4) for n, s in step.items()
      },
      "cpu_seconds_per_step": {
          n: round(s, 4) for n, s in cpu_step.items()
      },
      "images_per_second": {
          n: round(v, 1) for n, v in ips.items()
      },
      "all_step_seconds": {
          n: [round(s, 4) for s in t] for n, t in wall.items()
      },
      "mentornet_over_plain":
          round(ips["fit_mentornet"] / ips["fit"], 3),
      "no_dropout_over_plain":
          round(ips["fit_mentornet_no_dropout"] / ips["fit"], 3),
      "slower_curriculum_over_plain":
          round(
              min(ips["fit_mentornet"], ips["fit_mentornet_no_dropout"]) /
              ips["fit"], 3),
      "slower_curriculum_over_plain_fastest_rounds":
          round(
              fastest["fit"] / max(fastest["fit_mentornet"],
                                   fastest["fit_mentornet_no_dropout"]), 3),
      "uniform_wrapper_over_plain":
          round(ips["fit_uniform"] / ips["fit"], 3),
  }
  labels = {
      "fit":
          "plain Keras model, `fit`",
      "fit_uniform":
          "`MentorNetModel`, uniform weights",
      "fit_mentornet":
          "`MentorNetModel`, MentorNet PD",
      "fit_mentornet_no_dropout":
          "`MentorNetModel`, MentorNet PD, no example drop-out"
  }
  lines = [
      "# Keras `fit` with and without a MentorNet curriculum", "",
      "Command: `python benchmarks/keras_fit.py` (CifarNet, batch 128, "
      f"{FLAGS.rounds} alternating rounds of one {FLAGS.steps}-step `fit` "
      "each, medians; 20 augmented demo batches held in memory).",
      f"Host: {result['host']}; TensorFlow {tf.__version__}, Keras "
      f"{keras.__version__}.", "",
      "| contender | wall s/step | CPU s/step | images/s |",
      "|---|---|---|---|", *[
          f"| {labels[n]} | {result['step_seconds'][n]} | "
          f"{result['cpu_seconds_per_step'][n]} | "
          f"{result['images_per_second'][n]} |" for n in CONTENDERS
      ], "", "| ratio of images/s | measured | target |", "|---|---|---|",
      "| with MentorNet PD / plain `fit` | "
      f"{result['mentornet_over_plain']} | |",
      "| with MentorNet PD, no drop-out / plain `fit` | "
      f"{result['no_dropout_over_plain']} | |",
      "| **slower of the two / plain `fit`** | "
      f"**{result['slower_curriculum_over_plain']}** | >= 0.97 |",
      "| the same, fastest round of each | "
      f"{result['slower_curriculum_over_plain_fastest_rounds']} | (none) |",
      "| wrapper with uniform weights / plain `fit` | "
      f"{result['uniform_wrapper_over_plain']} | (none) |"
  ]
  hostinfo.write_results(FLAGS.results_dir, "keras_fit", result, lines)


if __name__ == "__main__":
  app.run(main)
