"""StudentNet training speed: MentorNet and MentorMix vs baseline step, our
loop vs Keras fit, and mixed precision vs float32.

  python benchmarks/training_step.py

CifarNet ("inception") at batch 128 on the demo data, in one process on one
machine. Rounds alternate the contenders (our baseline step, our MentorNet
step with the shipped PD curriculum, our MentorMix step with the same
curriculum, with and without the second weighting, and Keras `model.fit` on
the same model and pipeline) and the median time of each is kept. Writes
benchmarks/results/training_step.{md,json}.
Targets: MentorNet step / baseline step <= 1.03; our images/s / fit's >= 1.0;
the label evidence (`--mode=label_issues`'s per-example sums, which the
scripts keep; here for 50,000 examples, the paper's CIFAR-10) costs <= 2% of
a MentorNet step.
MentorMix runs the network forward twice and backward once (through the
mixed batch only), so it is expected near 1.3-1.5x the baseline step.

Mixed precision (`--precision`): the baseline step of CifarNet, a wide
ResNet of small width and ResNet-32, each at float32 and mixed_bfloat16 side
by side in the same rounds (the ResNets fewer steps a round: they are slow),
with the CPU's bfloat16 flags. Target: CifarNet mixed_bfloat16 >=
1.6x float32's images/s. A third CifarNet contender, float32 with the
mixed-precision LRN formula, separates the LRN's share of the gain.
"""

import dataclasses
import statistics
import time

from absl import app
from absl import flags
import keras
import tensorflow as tf

import hostinfo
from mentornet import config as config_lib
from mentornet import training
from mentornet.curriculum import evidence as evidence_lib
from mentornet.data import inputs
from mentornet.models import students
from mentornet.training import build

flags.DEFINE_string("data_dir", "data/demo/cifar10/0.4", "Training records.")
flags.DEFINE_integer("steps", 40, "Timed steps per round.")
flags.DEFINE_integer("rounds", 5, "Rounds (the median is kept).")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where to write.")
flags.DEFINE_bool("precision", True, "Measure the mixed-precision contenders.")
FLAGS = flags.FLAGS
PD = "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd"
BATCH = 128


def our_step(use_mentornet,
             dataset,
             mentormix=None,
             warmup=10,
             evidence_size=None,
             **model):
  """A callable timing `steps` steps of our loop; compiled and warmed up.

  `mentormix`: None (MentorNet or baseline step), or `second_reweight` of a
  MentorMix step (alpha 8, no example drop-out, weights averaged as its
  script does). `evidence_size`: keep the label evidence of that many
  examples (the scripts keep it for every training record). `model`: the
  model's flags (default CifarNet, float32).
  """
  config = training.TrainConfig.from_flat(
      train_log_dir="",
      data_dir=FLAGS.data_dir,
      **dict(dict(studentnet="inception"), **model),
      use_mentornet=use_mentornet,
      trained_mentornet_dir=PD,
      loss_p_percentile=0.75,
      example_dropout_rates="0.5,17,0.05,83")
  extra = {}
  if mentormix is not None:
    config = config.replace(method=config_lib.MENTORMIX,
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
  if evidence_size:
    extra["evidence"] = evidence_lib.LabelEvidence(evidence_size)
  step = training.build_step(config, tf.distribute.get_strategy(), model,
                             optimizer, curriculum, BATCH, **extra)
  iterator = iter(dataset)

  def timed(n):
    start = time.perf_counter()
    for _ in range(n):
      metrics = step(next(iterator))
    float(metrics["total_loss"])  # wait for the last step
    return time.perf_counter() - start

  timed(warmup)
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


def loop_result(step):
  """The figures of our loop's steps and Keras fit (CifarNet, float32)."""
  result = {
      "machine":
          hostinfo.host(),
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
      "evidence_over_mentornet":
          round(step["mentornet_evidence"] / step["mentornet"], 3),
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
  return result


def loop_lines(result):
  step = result["step_seconds"]
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
      f"| MentorNet step with the label evidence of 50,000 examples / without"
      f" | {result['evidence_over_mentornet']} | <= 1.02 |",
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
  return lines


# The mixed-precision contenders: model flags, and steps a round (None:
# --steps; the ResNets are slow on a CPU: ResNet-32 takes about 16 s a
# float32 step at batch 128 on 2 cores).
PRECISION_MODELS = {
    "cifarnet": (dict(studentnet="inception"), None),
    "wide_resnet": (dict(studentnet="resnet101",
                         num_residual_units=2,
                         resnet_widths=(80, 160, 320)), 4),
    "resnet32": (dict(studentnet="resnet32"), 2),
}
COMPOSITE_LRN = "inception_composite_lrn"


def register_composite_lrn():
  """CifarNet at float32 with the mixed-precision LRN formula (a StudentNet
  entry of its own), to tell the LRN's share of the gain from bfloat16's."""
  from mentornet.models.students import cifarnet  # pylint: disable=g-import-not-at-top
  students.register(
      dataclasses.replace(students.get("inception"),
                          name=COMPOSITE_LRN,
                          build=lambda classes, size, model: cifarnet.cifarnet(
                              classes, size, exact_lrn=False)))


def precision_contenders(dataset):
  """{(model, precision): (timed, steps a round)}."""
  register_composite_lrn()
  contenders = {}
  for model, (flags_, steps) in PRECISION_MODELS.items():
    for name in ("float32", "mixed_bfloat16"):
      contenders[(model, name)] = (our_step(False,
                                            dataset,
                                            warmup=steps or 10,
                                            precision=name,
                                            **flags_), steps or FLAGS.steps)
  contenders[("cifarnet",
              "float32_composite_lrn")] = (our_step(False,
                                                    dataset,
                                                    studentnet=COMPOSITE_LRN),
                                           FLAGS.steps)
  return contenders


def measure(contenders):
  """Median seconds a step of each contender (`(timed, steps)`), over
  alternating rounds."""
  times = {name: [] for name in contenders}
  for _ in range(FLAGS.rounds):
    for name, (timed, steps) in contenders.items():
      times[name].append(timed(steps) / steps)
  return {n: statistics.median(t) for n, t in times.items()}


def precision_result(step):
  """The mixed-precision part of the results: images/s and ratios."""
  from mentornet.models import precision  # pylint: disable=g-import-not-at-top
  flags_ = precision.cpu_flags()
  ips = {k: BATCH / v for k, v in step.items()}
  models = {}
  for model in PRECISION_MODELS:
    models[model] = {
        "float32_images_per_second":
            round(ips[(model, "float32")], 1),
        "mixed_bfloat16_images_per_second":
            round(ips[(model, "mixed_bfloat16")], 1),
        "ratio":
            round(ips[(model, "mixed_bfloat16")] / ips[(model, "float32")], 2)
    }
  composite = ips[("cifarnet", "float32_composite_lrn")]
  models["cifarnet"].update(float32_composite_lrn_images_per_second=round(
      composite, 1),
                            ratio_to_float32_composite_lrn=round(
                                ips[("cifarnet", "mixed_bfloat16")] / composite,
                                2))
  return {
      "cpu_flags": {
          f: f in flags_ for f in precision.BF16_CPU_FLAGS
      },
      "models": models,
      "wide_resnet_flags": "--num_residual_units=2 --resnet_widths=80,160,320",
      "target_cifarnet_ratio": 1.6
  }


def precision_lines(result):
  flags_ = ", ".join(
      f"{f} {'yes' if v else 'no'}" for f, v in result["cpu_flags"].items())
  models = result["models"]
  cifarnet = models["cifarnet"]
  return [
      "", "## Mixed precision (`--precision=mixed_bfloat16`)", "",
      f"CPU bfloat16 flags: {flags_}. Baseline step at batch 128, float32 "
      "and mixed_bfloat16 side by side in the same rounds (steps a round: " +
      ", ".join(
          f"{m} {s or FLAGS.steps}" for m, (_, s) in PRECISION_MODELS.items()) +
      "). Wide ResNet: "
      f"resnet101 with {result['wide_resnet_flags']}.", "",
      "| model | float32 images/s | mixed_bfloat16 images/s | ratio | target |",
      "|---|---|---|---|---|", *[
          f"| {m} | {v['float32_images_per_second']} | "
          f"{v['mixed_bfloat16_images_per_second']} | {v['ratio']} | "
          f"{'>= 1.6' if m == 'cifarnet' else '(none)'} |"
          for m, v in models.items()
      ], "",
      "CifarNet's local response normalisation has no bfloat16 CPU kernel, "
      "and TensorFlow's float32 kernel (forward and gradient) took half of a "
      "mixed-precision step in a profile; mixed precision computes the same "
      "formula as float32 ops (a float32 island, 3 times faster). float32 "
      "keeps the original's kernel. CifarNet at float32 with that formula: "
      f"{cifarnet['float32_composite_lrn_images_per_second']} images/s; "
      "mixed_bfloat16 is "
      f"{cifarnet['ratio_to_float32_composite_lrn']}x that, the gain of "
      "bfloat16 alone."
  ]


def main(argv):
  del argv
  started = time.process_time()
  dataset = inputs.train_dataset(FLAGS.data_dir, "cifar10",
                                 students.get("inception").pad, BATCH)
  contenders = {
      name: (timed, FLAGS.steps) for name, timed in {
          "baseline": our_step(False, dataset),
          "mentornet": our_step(True, dataset),
          "mentornet_evidence": our_step(True, dataset, evidence_size=50000),
          "mentormix": our_step(True, dataset, mentormix=False),
          "mentormix_2nd": our_step(True, dataset, mentormix=True),
          "keras_fit": keras_fit(dataset)
      }.items()
  }
  if FLAGS.precision:
    contenders.update(precision_contenders(dataset))
  measured = measure(contenders)
  step = {n: v for n, v in measured.items() if isinstance(n, str)}
  result = loop_result(step)
  lines = loop_lines(result)
  if FLAGS.precision:
    result["precision"] = precision_result({
        n: v for n, v in measured.items() if isinstance(n, tuple)
    })
    lines += precision_lines(result["precision"])
  result["cpu_seconds"] = round(time.process_time() - started, 1)
  lines += ["", f"CPU time of the whole benchmark: {result['cpu_seconds']} s."]
  hostinfo.write_results(FLAGS.results_dir, "training_step", result, lines)


if __name__ == "__main__":
  app.run(main)
