"""CPU-scale reproduction of the paper's CifarNet table on real CIFAR-10.

  python benchmarks/reproduce.py [--tfds_data_dir=../shared/tensorflow_datasets]

Noise 0.4 and 0.8 x baseline, self-paced, focal loss, MentorNet PD,
MentorNet DD and MentorMix, each run with the original per-method flags of
the experiment grid (commands/grid.sh; MentorMix: its own grid's CIFAR-10
row, commands/mentormix.tsv) through the real training script, on a
schedule scaled to a 2-core CPU:
  * the first 1,000 CIFAR-10 training images with uniform label noise (seed
    0), the full 10,000-image test split for evaluation;
  * CifarNet, batch 128, 2,000 steps (256 epochs; the original runs 307),
    learning rate 0.1 decayed x0.1 once at 65% of training, as the original
    120,000-step schedule does (num_epochs_per_decay 185.8 here, 200 there;
    the decay step is the original's Python 2 arithmetic, 1000 // 128 = 7
    steps an epoch, so 7 x 185.8 = 1,300).
    Few images for many epochs, so that the baseline memorises the noise as in
    the paper's long runs. With the original's CifarNet training (8-pixel
    padding, no weight decay) 2,000 images for 128 epochs were not enough: the
    baseline's test accuracy at noise 0.4 was still rising at the end (0.4176,
    training loss 1.83). Before that correction 20,000 images for 13 epochs,
    8,000 for 32 and 4,000 for 64 had not been enough either;
  * a checkpoint every 200 steps, each evaluated on the test split: the table
    gives the final and the best test accuracy;
  * a summary every 50 steps: the noise diagnostics (the correctly labelled
    examples' share of the summed weight, the mean weights of correctly
    labelled and of mislabelled examples) over the examples of those steps;
  * baseline, DD and MentorMix again with more training seeds
    (--repeat_seeds), for the mean and spread of their margins;
  * MentorMix on the same network, schedule and preprocessing as the other
    methods (CifarNet, x0.1 at 65%), not its own ResNet-32 and x0.9 every 3
    epochs: the row compares the methods' steps, not their networks.
Writes benchmarks/results/reproduce_cpu.{md,json,png}; the picture is drawn
from the JSON (`--plot_only` redraws it). Finished runs are kept in
--work_dir (one folder per protocol) and skipped when the same protocol is
rerun.
"""

import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

from absl import app
from absl import flags
import tensorflow as tf

import hostinfo
from mentornet import config as config_lib
from mentornet.data import cifar_data
from mentornet.evaluation import evaluate
from mentornet.models import optimizers

flags.DEFINE_string("tfds_data_dir", "../shared/tensorflow_datasets",
                    "Prepared tensorflow-datasets directory with CIFAR-10.")
flags.DEFINE_string("work_dir", "benchmarks/work/reproduce",
                    "Data and runs (git-ignored).")
flags.DEFINE_list("noises", ["0.4", "0.8"], "Noise fractions.")
flags.DEFINE_list("methods", ["baseline", "self_paced", "focal_loss",
                              "mentornet_pd", "mentornet_dd", "mentormix"],
                  "Methods.")
flags.DEFINE_integer("train_examples", 1000, "Training images used.")
flags.DEFINE_integer("steps", 2000, "Training steps per run.")
flags.DEFINE_float("num_epochs_per_decay", 185.8,
                   "Epochs between learning-rate decays (one decay at ~65%).")
flags.DEFINE_integer("save_checkpoint_steps", 200, "Evaluation interval.")
flags.DEFINE_integer("save_summaries_steps", 50,
                     "Interval of the noise diagnostics.")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where to write.")
flags.DEFINE_string("results_name", "reproduce_cpu",
                    "Results file name, without .md/.json.")
flags.DEFINE_integer("seed", 0, "Training seed (initialisation, data order, "
                     "drop-out draws); the noisy labels are always seed 0's.")
flags.DEFINE_list("repeat_seeds", ["1", "2"],
                  "Training seeds of the repeated runs (empty: none).")
flags.DEFINE_list("repeat_methods", ["baseline", "mentornet_dd", "mentormix"],
                  "Methods run again with each of --repeat_seeds.")
flags.DEFINE_bool("plot_only", False,
                  "Only redraw the picture from the results JSON.")
flags.DEFINE_string("notes_file", "benchmarks/reproduce_notes.md",
                    "Hand-written analysis appended to the results file "
                    "(skipped when empty or absent).")
FLAGS = flags.FLAGS

BATCH_SIZE = 128
PAPER = {  # CIFAR-10 CifarNet, the paper's Table (original README)
    "0.4": {"baseline": 0.720, "self_paced": 0.733, "focal_loss": 0.695,
            "mentornet_pd": 0.731, "mentornet_dd": 0.763},
    "0.8": {"baseline": 0.290, "self_paced": 0.272, "focal_loss": 0.309,
            "mentornet_pd": 0.312, "mentornet_dd": 0.461},
}
PAPER_DD_MARGIN = {"0.4": 0.043, "0.8": 0.171}
# MentorMix's README (ResNet-32, CIFAR-10, 200,000 steps); no CifarNet figure.
MENTORMIX_PAPER = {"0.4": 0.944, "0.8": 0.820}
MENTORMIX_TABLE = "commands/mentormix.tsv"


METHODS_TABLE = "commands/methods.tsv"


def method_flags(method, noise, studentnet="inception"):
  """The grid's per-method flags: the first matching row of the table that
  commands/grid.sh reads too."""
  with open(METHODS_TABLE) as f:
    for line in f:
      if line.startswith("#") or not line.strip():
        continue
      name, net, level, flags_text = line.rstrip("\n").split("\t")
      if name == method and net in ("*", studentnet) and level in ("*", noise):
        return flags_text.split()
  raise ValueError(f"no row for method {method} in {METHODS_TABLE}")


def mentormix_flags(noise, second_reweight=None):
  """MentorMix's CIFAR-10 flags at `noise` from its grid's table, on this
  protocol's schedule (x0.1 once, as every other method here);
  `second_reweight` True or False overrides the table's choice."""
  with open(MENTORMIX_TABLE) as f:
    for line in f:
      if line.startswith("#") or not line.strip():
        continue
      dataset, level, alpha, percentile, second = line.split()
      if dataset == "cifar10" and level == noise:
        return ["--trained_mentornet_dir=mentornet_models/models/"
                "mentornet_pd1_g_1/mentornet_pd",
                f"--loss_p_percentile={percentile}", "--burn_in_epoch=10",
                f"--mixup_alpha={alpha}",
                "--second_reweight" if (second == "yes" if second_reweight
                                        is None else second_reweight)
                else "--nosecond_reweight",
                "--learning_rate_decay_factor=0.1"]
  raise ValueError(f"no cifar10 row for noise {noise} in {MENTORMIX_TABLE}")


# MentorMix and its variants: the table's choice, or second reweighting
# forced off or on (for ablations: --methods=mentormix_no2nd).
MENTORMIX_METHODS = {"mentormix": None, "mentormix_no2nd": False,
                     "mentormix_2nd": True}


def train_command(method, noise, data_root, log_dir, seed):
  if method == "baseline":
    script, extra = "code/cifar_train_baseline.py", []
  elif method in MENTORMIX_METHODS:
    script = "code/cifar_train_mentormix.py"
    extra = mentormix_flags(noise, MENTORMIX_METHODS[method])
  else:
    script = "code/cifar_train_mentornet.py"
    extra = method_flags(method, noise)
  return ["python", script, "--dataset_name=cifar10", "--studentnet=inception",
          f"--data_dir={data_root}/cifar10/{noise}",
          f"--train_log_dir={log_dir}", f"--batch_size={BATCH_SIZE}",
          f"--max_number_of_steps={FLAGS.steps}",
          f"--num_epochs_per_decay={FLAGS.num_epochs_per_decay}",
          f"--save_checkpoint_steps={FLAGS.save_checkpoint_steps}",
          "--save_interval_secs=100000", "--log_every_n_steps=500",
          "--save_summaries_secs=100000",
          f"--save_summaries_steps={FLAGS.save_summaries_steps}",
          f"--seed={seed}"] + extra


def prepare_data(data_root):
  for noise in FLAGS.noises:
    if os.path.isdir(os.path.join(data_root, "cifar10", noise)):
      continue
    cifar_data.prepare_noisy_cifar(config_lib.PrepareConfig(
        dataset_name="cifar10", noise_fraction=float(noise), seed=0,
        tfds_data_dir=FLAGS.tfds_data_dir, output_dir=data_root,
        max_train_examples=FLAGS.train_examples))


def evaluate_run(log_dir, data_root):
  """Test accuracy of every retained checkpoint: {step: accuracy}."""
  config, _ = evaluate.adopt_training_config(config_lib.EvalConfig(
      checkpoint_dir=log_dir, data_dir=f"{data_root}/cifar10/val",
      batch_size=500))
  evaluator = evaluate.Evaluator(config)
  return {evaluate.checkpoint_step(p): evaluator.evaluate(p)[0]
          for p in evaluate.checkpoints_on_disk(log_dir)}


# Bumped whenever the training code changes what a run computes, so that runs
# cached by older code are not reused (2: training as the original trained;
# 3: Python 2 decay steps, independent initial values, whole passes, full
# drop-out key, noise diagnostics).
CODE_VERSION = 3


def protocol_name(seed):
  return (f"v{CODE_VERSION}_{FLAGS.train_examples}img_{FLAGS.steps}steps_"
          f"{FLAGS.num_epochs_per_decay:g}epd_{FLAGS.save_checkpoint_steps}ckpt"
          + (f"_seed{seed}" if seed else ""))


NOISE_TAGS = ("weight_share_clean", "mean_weight_clean", "mean_weight_noisy")


def read_scalars(log_dir, prefix):
  """{tag: [(step, value)]} of a run's TensorBoard scalars under `prefix`."""
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  acc = event_accumulator.EventAccumulator(
      log_dir, size_guidance={event_accumulator.TENSORS: 0})
  acc.Reload()
  return {tag: [(e.step, float(tf.make_ndarray(e.tensor_proto)))
                for e in acc.Tensors(tag)]
          for tag in acc.Tags()["tensors"] if tag.startswith(prefix)}


def noise_record(log_dir):
  """The run's noise diagnostics: per summary, and over its last summary."""
  tags = read_scalars(log_dir, "noise/")
  series = {name: tags.get(f"noise/{name}", []) for name in NOISE_TAGS}
  return {"steps": [step for step, _ in series["weight_share_clean"]],
          "series": {k: [v for _, v in points] for k, points in series.items()},
          "final": {k: points[-1][1] for k, points in series.items() if points}}


def run_one(method, noise, data_root, seed):
  log_dir = os.path.join(FLAGS.work_dir, "runs", protocol_name(seed),
                         f"{noise}_{method}")
  done = os.path.join(log_dir, "result.json")
  command = train_command(method, noise, data_root, log_dir, seed)
  if os.path.exists(done):
    with open(done) as f:
      result = json.load(f)
    if result["command"] != shlex.join(command):
      raise SystemExit(f"{done} was made by another command; remove "
                       f"{log_dir} or pass another --work_dir")
    return result
  start = time.perf_counter()
  cpu_start = os.times()
  subprocess.run([sys.executable] + command[1:], check=True)
  cpu = os.times()
  train_seconds = time.perf_counter() - start
  accuracy = evaluate_run(log_dir, data_root)
  losses = read_scalars(log_dir, "train/loss")["train/loss"]
  result = {"method": method, "noise": noise, "seed": seed,
            "command": shlex.join(command),
            "train_seconds": round(train_seconds),
            "train_cpu_seconds": round(
                cpu.children_user + cpu.children_system -
                cpu_start.children_user - cpu_start.children_system),
            "final_accuracy": accuracy[max(accuracy)],
            "best_accuracy": max(accuracy.values()),
            "best_step": max(accuracy, key=accuracy.get),
            "accuracy_by_step": {str(k): v for k, v in sorted(accuracy.items())},
            "final_train_loss": losses[-1][1],
            "diagnostics": noise_record(log_dir),
            "eval_seconds": round(time.perf_counter() - start - train_seconds)}
  with open(done, "w") as f:
    json.dump(result, f, indent=1)
  print(f"{noise} {method} seed {seed}: final {result['final_accuracy']:.4f} best "
        f"{result['best_accuracy']:.4f} ({train_seconds:.0f} s)", flush=True)
  return result


def protocol_text():
  epochs = FLAGS.steps * BATCH_SIZE / FLAGS.train_examples
  decay_step = optimizers.decay_steps(FLAGS.train_examples, BATCH_SIZE,
                                      FLAGS.num_epochs_per_decay)
  seeds = ", ".join(FLAGS.repeat_seeds)
  return (
      f"Protocol: CifarNet on the first {FLAGS.train_examples:,} CIFAR-10 "
      "training images with uniform label noise (seed 0); training seed "
      f"{FLAGS.seed}" + (f" (and {seeds} for the repeated runs of "
                         f"{', '.join(FLAGS.repeat_methods)})" if seeds
                         else "") + f"; batch {BATCH_SIZE}, "
      f"{FLAGS.steps:,} steps (about {epochs:.0f} epochs); learning rate 0.1, "
      f"x0.1 every {decay_step:,} steps ({decay_step / FLAGS.steps:.0%} of "
      "training; the original 120,000-step schedule decays at 65%); a "
      f"checkpoint every {FLAGS.save_checkpoint_steps} steps, each evaluated "
      "on the full 10,000-image test split; the noise diagnostics summarised "
      f"every {FLAGS.save_summaries_steps} steps; per-method flags as in the "
      "grid (`commands/methods.tsv`). MentorNet DD is the shipped curriculum "
      "learned on CIFAR-10 with 20% noise (`commands/learn_mentornet_dd.sh`)."
      " MentorMix takes its own grid's CIFAR-10 row at each noise "
      "(`commands/mentormix.tsv`: mixup alpha, percentile, second reweight; "
      "MentorNet PD, burn-in 10) on this same network and schedule, and is "
      "scored, as its original evaluation did, on the moving average of its "
      "weights (decay 0.9999 with TF 1's num_updates ramp, min(0.9999, "
      "(1 + step) / (10 + step)): about the last few hundred steps here).")


def _noise_cells(r):
  final = r.get("diagnostics", {}).get("final", {})
  return " | ".join(f"{final[k]:.3f}" if k in final else "" for k in NOISE_TAGS)


def paper_cell(r):
  if r["method"] in MENTORMIX_METHODS:  # no CifarNet figure: its network's
    return f"({MENTORMIX_PAPER[r['noise']]:.3f} ResNet-32)"
  return f"{PAPER[r['noise']][r['method']]:.3f}"


def _row(r):
  return (f"| {r['noise']} | {r['method']} | {r['seed']} | "
          f"{r['final_accuracy']:.4f} | "
          f"{r['best_accuracy']:.4f} ({r['best_step']}) | "
          f"{100 * (r['final_accuracy'] - r['best_accuracy']):+.1f} points | "
          f"{_noise_cells(r)} | "
          f"{paper_cell(r)} | "
          f"{r['train_seconds'] / 60:.1f} min |")


def margin_lines(by, method):
  """`method` minus baseline (final accuracy) per seed, mean and spread."""
  seeds = sorted({seed for (_, _, seed) in by})
  lines = ["| noise | " + " | ".join(f"seed {s}" for s in seeds)
           + " | mean | spread (min to max; sd) | paper's margin | met |",
           "|---|" + "---|" * len(seeds) + "---|---|---|---|"]
  for noise in FLAGS.noises:
    margins = {}
    for seed in seeds:
      run = by.get((noise, method, seed))
      base = by.get((noise, "baseline", seed))
      if run and base:
        margins[seed] = run["final_accuracy"] - base["final_accuracy"]
    if not margins:
      continue
    values = list(margins.values())
    mean = statistics.fmean(values)
    spread = (f"{100 * min(values):+.1f} to {100 * max(values):+.1f}"
              + (f"; sd {100 * statistics.stdev(values):.1f}"
                 if len(values) > 1 else ""))
    if method == "mentornet_dd":
      paper = PAPER_DD_MARGIN[noise]
      paper_text = f"{100 * paper:+.1f} points"
      met = ("yes" if mean >= paper else
             f"no, short by {100 * (paper - mean):.1f} points")
    else:  # MentorMix reported no CifarNet baseline
      paper_text, met = "none reported", ""
    lines.append(f"| {noise} | " + " | ".join(
        f"{100 * margins[s]:+.1f}" if s in margins else "" for s in seeds)
        + f" | {100 * mean:+.1f} points | {spread} | {paper_text} | {met} |")
  return lines


MARGIN_TITLES = {"mentornet_dd": "MentorNet DD", "mentormix": "MentorMix"}


def write_results(results, wall_seconds):
  os.makedirs(FLAGS.results_dir, exist_ok=True)
  run_seconds = sum(r["train_seconds"] + r["eval_seconds"] for r in results)
  summary = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
             "cpu": hostinfo.cpu_model(),
             "invocation_seconds": round(wall_seconds),
             "run_seconds": run_seconds,
             "runs": results}
  with open(os.path.join(FLAGS.results_dir, FLAGS.results_name + ".json"),
            "w") as f:
    json.dump(summary, f, indent=1)
  by = {(r["noise"], r["method"], r["seed"]): r for r in results}
  table_seconds = sum(r["train_seconds"] + r["eval_seconds"] for r in results
                      if r["seed"] == FLAGS.seed)
  lines = ["# MentorNet reproduction at CPU scale: CifarNet on CIFAR-10", "",
           f"Command: `{shlex.join(['python', 'benchmarks/reproduce.py'] + sys.argv[1:])}` "
           f"({summary['cpu']}, {summary['machine']}; the main table's runs "
           f"took {table_seconds / 60:.0f} min of training and evaluation, "
           f"all {len(results)} runs {run_seconds / 60:.0f} min, one after the"
           " other; finished runs found in the work folder are reused, not "
           "rerun).",
           "", protocol_text(), "",
           f"![test accuracy and clean weight share]({FLAGS.results_name}.png)",
           "",
           "The noise columns are over the examples of the last "
           f"{FLAGS.save_summaries_steps} steps: the correctly labelled "
           "examples' share of the summed weight (for the baseline, whose "
           "weights are all 1, the share of correct labels in those batches), "
           "and the mean weight of correctly labelled and of mislabelled "
           "examples.", "",
           "| noise | method | seed | final test acc. | best test acc. (step)"
           " | final - best | clean weight share | mean weight, clean | mean "
           "weight, mislabelled | paper (final, 120k steps) | train time |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
  seeds = [FLAGS.seed] + [int(s) for s in FLAGS.repeat_seeds
                          if int(s) != FLAGS.seed]
  for seed in seeds:
    for noise in FLAGS.noises:
      for method in FLAGS.methods:
        if (noise, method, seed) in by:
          lines.append(_row(by[(noise, method, seed)]))
  for method, title in MARGIN_TITLES.items():
    if any(key[1] == method for key in by):
      lines += ["", f"## {title} against the baseline (final accuracy, "
                "points)", ""] + margin_lines(by, method)
  steps = sorted({int(k) for r in results for k in r["accuracy_by_step"]})
  lines += ["", "## Test accuracy at each checkpoint", "",
            "| noise | method | seed | " + " | ".join(map(str, steps)) + " |",
            "|---|---|---|" + "---|" * len(steps)]
  for r in results:
    by_step = r["accuracy_by_step"]
    lines.append(f"| {r['noise']} | {r['method']} | {r['seed']} | " +
                 " | ".join(f"{by_step[str(k)]:.3f}" if str(k) in by_step
                            else "" for k in steps) + " |")
  if FLAGS.notes_file and os.path.exists(FLAGS.notes_file):
    with open(FLAGS.notes_file) as f:
      notes = f.read().strip()
    if notes:
      lines += ["", notes]
  lines += ["", "## Exact commands", "", "```bash"]
  lines += [r["command"] for r in results] + ["```"]
  with open(os.path.join(FLAGS.results_dir, FLAGS.results_name + ".md"),
            "w") as f:
    f.write("\n".join(lines) + "\n")
  plot(summary, os.path.join(FLAGS.results_dir, FLAGS.results_name + ".png"))
  print("\n".join(lines))


SHARE_METHODS = ("baseline", "mentornet_pd", "mentornet_dd", "mentormix")


def plot(summary, path):
  """Draws the results JSON: test accuracy per checkpoint of every method
  (top) and the clean weight share over training of baseline, PD and DD
  (bottom; MentorMix: its first, "individual" weights, which pick the
  mixup partners), one column per noise, training seed FLAGS.seed."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  runs = {(r["noise"], r["method"]): r for r in summary["runs"]
          if r["seed"] == FLAGS.seed}
  noises = [n for n in FLAGS.noises if any(k[0] == n for k in runs)]
  fig, axes = plt.subplots(2, len(noises), figsize=(5.5 * len(noises), 7.5),
                           squeeze=False)
  for column, noise in enumerate(noises):
    top, bottom = axes[0][column], axes[1][column]
    for method in FLAGS.methods:
      r = runs.get((noise, method))
      if r is None:
        continue
      color = f"C{FLAGS.methods.index(method) % 10}"  # one per method
      curve = sorted((int(k), v) for k, v in r["accuracy_by_step"].items())
      top.plot(*zip(*curve), marker="o", markersize=3, label=method,
               color=color)
      series = r.get("diagnostics", {})
      if method in SHARE_METHODS and series.get("steps"):
        bottom.plot(series["steps"], series["series"]["weight_share_clean"],
                    label=method, color=color)
    top.set_title(f"noise {noise}: test accuracy per checkpoint")
    top.set_xlabel("step")
    top.set_ylabel("test accuracy")
    top.legend(fontsize=8)
    bottom.set_title(f"noise {noise}: correctly labelled share of the weight")
    bottom.set_xlabel("step")
    bottom.set_ylabel("weight share of correct labels")
    bottom.legend(fontsize=8)
  fig.suptitle(f"CifarNet on {FLAGS.train_examples:,} noisy CIFAR-10 images, "
               f"{FLAGS.steps:,} steps, training seed {FLAGS.seed}\n"
               f"({summary['cpu']})", fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def main(argv):
  del argv
  if FLAGS.plot_only:
    with open(os.path.join(FLAGS.results_dir,
                           FLAGS.results_name + ".json")) as f:
      plot(json.load(f), os.path.join(FLAGS.results_dir,
                                      FLAGS.results_name + ".png"))
    return
  start = time.perf_counter()
  data_root = os.path.join(FLAGS.work_dir, "data",
                           f"{FLAGS.train_examples}img")
  prepare_data(data_root)
  results = [run_one(m, n, data_root, FLAGS.seed) for n in FLAGS.noises
             for m in FLAGS.methods]
  for seed in FLAGS.repeat_seeds:
    if int(seed) != FLAGS.seed:
      results += [run_one(m, n, data_root, int(seed))
                  for n in FLAGS.noises for m in FLAGS.repeat_methods]
  write_results(results, time.perf_counter() - start)


if __name__ == "__main__":
  app.run(main)
