"""Which labels are wrong: the curriculum's ranking against confident learning.

  pip install -r requirements-benchmarks.txt   # cleanlab, for this benchmark only
  python benchmarks/label_issues.py [--work_dir=../mentornet_reproduce]

On the reproduction's cpu_1k protocol (`reproduce.py`: the first 1,000 CIFAR-10
training images at noise 0.4 and 0.8, CifarNet, batch 128, 2,000 steps, the
learning rate x0.1 at step 1,300), for each noise:

  (a) cleanlab's `find_label_issues`, given out-of-sample predicted
      probabilities from 4-fold cross-validation: four baseline trainings on
      750 images each with the same schedule (2,000 steps, decay at 1,300),
      each fold's final checkpoint scoring its 250 held-out images;
  (b) our rankings from one DD run and one PD run (the grid's flags): mean
      curriculum weight and mean loss (`cifar_eval.py --mode=label_issues`);
  (c) the baseline's mean loss (one baseline run on all 1,000 images).

For each ranking: precision, recall and F1 at cleanlab's flagged count and at
the true count of mislabelled examples, the AUROC, and the training time it
needed (wall and CPU of its trainings). Writes
benchmarks/results/label_issues.{md,json,png} (the picture: a precision-recall
curve per method at both noises). Runs live in --work_dir/label_issues/ and
resume after any stop (the same command continues them); a finished training
is reused.
"""

import dataclasses
import json
import os
import resource
import signal
import subprocess
import sys
import time

from absl import app
from absl import flags
import numpy as np

import hostinfo
from mentornet import files
import reproduce

# reproduce.py's flags serve here too: --work_dir (its cpu_1k data, and
# label_issues/ for these runs), --noises (default 0.4,0.8), --steps
# (default 2000), --results_dir.
flags.DEFINE_integer("decay_step", 1300, "The step of the x0.1 decay.")
flags.DEFINE_integer("folds", 4, "Cross-validation folds for cleanlab.")
FLAGS = flags.FLAGS
NOISES, STEPS = ("0.4", "0.8"), 2000


def steps():
  return FLAGS.steps or STEPS


METHODS = ("mentornet_dd", "mentornet_pd", "baseline")


def data_root():
  return os.path.join(FLAGS.work_dir, "data", "1000img")


def bench_dir(*parts):
  return os.path.join(FLAGS.work_dir, "label_issues", *parts)


def timed_run(argv, log_path, on_end=None):
  """Runs `argv` (the repository as working directory), its output into
  `log_path`; returns (wall seconds, CPU seconds of it and its children).
  `on_end(wall, cpu)` is called before a failure (a stop too) is raised, so
  that the time of an interrupted training is kept."""
  before = resource.getrusage(resource.RUSAGE_CHILDREN)
  start = time.time()
  with open(log_path, "a") as log:
    proc = subprocess.Popen([sys.executable] + argv[1:],
                            stdout=log,
                            stderr=subprocess.STDOUT)
    # A stop of this benchmark (SIGTERM, Ctrl-C) goes to the training, which
    # saves and exits (a second signal is ignored there); then its time is
    # kept, and the stop raised.
    previous = {
        s: signal.signal(s, lambda signum, _: proc.send_signal(signum))
        for s in (signal.SIGTERM, signal.SIGINT)
    }
    try:
      proc.wait()
    finally:
      for s, handler in previous.items():
        signal.signal(s, handler)
  after = resource.getrusage(resource.RUSAGE_CHILDREN)
  cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
  if on_end:
    on_end(time.time() - start, cpu)
  if proc.returncode:
    raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}); see "
                       f"{log_path}")
  return time.time() - start, cpu


def train(method, noise, log_dir, data_dir, num_examples):
  """Trains one run to --steps (resumes; reuses a finished one). Returns its
  (wall, CPU) seconds, accumulated over every invocation."""
  os.makedirs(log_dir, exist_ok=True)
  times_path = os.path.join(log_dir, "bench_times.json")
  times = {"wall": 0.0, "cpu": 0.0}
  if os.path.exists(times_path):
    with open(times_path) as f:
      times = json.load(f)
  if os.path.exists(os.path.join(log_dir, f"model.ckpt-{steps()}.index")):
    return times["wall"], times["cpu"]
  protocol = dataclasses.replace(reproduce.PROTOCOLS["cpu_1k"],
                                 steps=steps(),
                                 num_epochs_per_decay=FLAGS.decay_step /
                                 (num_examples // reproduce.BATCH_SIZE))
  argv = reproduce.train_command(protocol, method, noise, data_root(), log_dir,
                                 0)
  argv = [a for a in argv if not a.startswith("--data_dir=")]
  argv.append(f"--data_dir={data_dir}")

  def keep(wall, cpu):
    times.update(wall=times["wall"] + wall, cpu=times["cpu"] + cpu)
    files.write_json_atomically(times_path, times)

  timed_run(argv, os.path.join(log_dir, "bench.log"), on_end=keep)
  return times["wall"], times["cpu"]


def noise_records(noise):
  """(serialized records in file order, their labels, ids, clean labels)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from mentornet.data import inputs  # pylint: disable=g-import-not-at-top
  from mentornet.data import shards  # pylint: disable=g-import-not-at-top
  records = shards.record_files(os.path.join(data_root(), "cifar10", noise),
                                "cifar10", "train")
  serialized = [r.numpy() for r in tf.data.TFRecordDataset(records)]
  examples = inputs.load_examples(records, "cifar10")
  return serialized, examples


def fold_of(num_examples):
  """Each record's fold: a seeded, balanced assignment."""
  rng = np.random.default_rng(0)
  return rng.permutation(np.arange(num_examples) % FLAGS.folds)


def write_fold_data(noise, serialized, folds):
  """Training (other folds) and held-out records of each fold."""
  from mentornet.data import records  # pylint: disable=g-import-not-at-top
  for k in range(FLAGS.folds):
    for part, keep in (("train", folds != k), ("heldout", folds == k)):
      directory = bench_dir("data", noise, f"fold{k}_{part}")
      if os.path.isdir(directory):
        continue
      os.makedirs(directory + ".tmp", exist_ok=True)
      records.write_records([s for s, y in zip(serialized, keep) if y],
                            directory + ".tmp", "cifar10", "train")
      os.replace(directory + ".tmp", directory)


def heldout_probabilities(noise, run_dirs, examples):
  """Out-of-sample probabilities [N, 10], in record order."""
  from mentornet import config as config_lib  # pylint: disable=g-import-not-at-top
  from mentornet.data import shards  # pylint: disable=g-import-not-at-top
  from mentornet.evaluation import label_issues  # pylint: disable=g-import-not-at-top
  row_of = {int(i): r for r, i in enumerate(examples["id"])}
  probabilities = np.zeros([len(row_of), 10])
  for k, run in enumerate(run_dirs):
    config = config_lib.EvalConfig.from_flat(studentnet="inception",
                                             checkpoint_dir=run,
                                             data_dir=bench_dir(
                                                 "data", noise,
                                                 f"fold{k}_heldout"),
                                             split_name="train",
                                             batch_size=250)
    records = shards.record_files(config.data_dir, "cifar10", "train")
    _, scored = label_issues.scored_records(config, records)
    rows = [row_of[int(i)] for i in scored["id"]]
    probabilities[rows] = np.exp(scored["log_probabilities"])
  return probabilities


def scores_at(scores, mislabelled, count):
  """Precision, recall and F1 of the `count` highest scores."""
  from mentornet.evaluation import label_issues  # pylint: disable=g-import-not-at-top
  precision, recall = label_issues.precision_recall_at(scores, mislabelled,
                                                       count)
  f1 = (2 * precision * recall / (precision + recall) if precision +
        recall else 0.0)
  return {
      "precision": round(precision, 4),
      "recall": round(recall, 4),
      "f1": round(f1, 4)
  }


def read_ranking(run, num_examples, ids):
  """A run's `label_issues.csv` as {mean_weight, mean_loss}: suspicion
  scores (higher: more suspicious) in record order."""
  import csv  # pylint: disable=g-import-not-at-top
  row_of = {int(i): r for r, i in enumerate(ids)}
  weight = np.full(num_examples, -np.inf)
  loss = np.full(num_examples, -np.inf)
  with open(os.path.join(run, "label_issues.csv")) as f:
    for row in csv.DictReader(f):
      r = row_of[int(row["id"])]
      if row["mean_weight"]:
        weight[r] = -float(row["mean_weight"])
        loss[r] = float(row["mean_loss"])
  return {"mean_weight": weight, "mean_loss": loss}


def measure_noise(noise):
  """Every contender at one noise: {name: {scores, wall, cpu}}, the true
  mislabelled mask, and cleanlab's flagged count."""
  import cleanlab  # pylint: disable=g-import-not-at-top
  serialized, examples = noise_records(noise)
  n = len(serialized)
  mislabelled = examples["label"] != examples["clean_label"]
  folds = fold_of(n)
  write_fold_data(noise, serialized, folds)
  runs, wall, cpu = [], 0.0, 0.0
  for k in range(FLAGS.folds):
    run = bench_dir("runs", noise, f"fold{k}")
    w, c = train("baseline", noise, run,
                 bench_dir("data", noise, f"fold{k}_train"),
                 int((folds != k).sum()))
    runs.append(run)
    wall, cpu = wall + w, cpu + c
  probabilities = heldout_probabilities(noise, runs, examples)
  labels = examples["label"].astype(int)
  flagged = cleanlab.filter.find_label_issues(labels, probabilities)
  quality = cleanlab.rank.get_label_quality_scores(labels, probabilities)
  contenders = {"cleanlab": {"scores": -quality, "wall": wall, "cpu": cpu}}
  for method in METHODS:
    run = bench_dir("runs", noise, method)
    w, c = train(method, noise, run, os.path.join(data_root(), "cifar10",
                                                  noise), n)
    timed_run([
        "python", "code/cifar_eval.py", "--mode=label_issues",
        f"--checkpoint_dir={run}",
        f"--data_dir={os.path.join(data_root(), 'cifar10', noise)}"
    ], os.path.join(run, "bench.log"))
    ranking = read_ranking(run, n, examples["id"])
    names = ("mean_loss",) if method == "baseline" else ("mean_weight",
                                                         "mean_loss")
    for name in names:
      contenders[f"{method}/{name}"] = {
          "scores": ranking[name],
          "wall": w,
          "cpu": c
      }
  return contenders, mislabelled, int(flagged.sum())


def summarise(contenders, mislabelled, flagged):
  from mentornet.evaluation import label_issues  # pylint: disable=g-import-not-at-top
  true_count = int(mislabelled.sum())
  out = {}
  for name, c in contenders.items():
    out[name] = {
        "at_cleanlab_count": scores_at(c["scores"], mislabelled, flagged),
        "at_true_count": scores_at(c["scores"], mislabelled, true_count),
        "auroc": round(label_issues.auroc(c["scores"], mislabelled), 4),
        "training_wall_s": round(c["wall"], 1),
        "training_cpu_s": round(c["cpu"], 1)
    }
  return out


def pr_curve(scores, positives):
  order = np.argsort(-scores, kind="mergesort")
  hits = np.cumsum(positives[order])
  k = np.arange(1, len(order) + 1)
  return hits / positives.sum(), hits / k


def draw(curves, path):
  from mentornet.evaluation import plot  # pylint: disable=g-import-not-at-top
  plt = plot.pyplot()
  fig, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 4.5))
  for ax, (noise, (contenders, mislabelled)) in zip(np.atleast_1d(axes),
                                                    curves.items()):
    for name, c in contenders.items():
      recall, precision = pr_curve(c["scores"], mislabelled)
      ax.plot(recall, precision, label=name)
    ax.axhline(mislabelled.mean(), color="grey", lw=0.8, ls=":")
    ax.set(title=f"noise {noise}: which labels are wrong",
           xlabel="recall",
           ylabel="precision",
           ylim=(0, 1.02))
    ax.legend(fontsize=8)
  plot.save_png(fig, path)


def lines_for(result):
  lines = [
      "# Which labels are wrong: curriculum rankings against cleanlab", "",
      "Command: `python benchmarks/label_issues.py` (cleanlab "
      f"{result['cleanlab_version']}, `requirements-benchmarks.txt`).",
      f"Machine: {result['machine']}. Protocol: the first 1,000 CIFAR-10 "
      f"images, CifarNet, {steps()} steps, decay at {FLAGS.decay_step}; "
      f"cleanlab on {FLAGS.folds}-fold out-of-sample probabilities. Training "
      "time: the sum over a ranking's trainings (cleanlab: its folds); wall "
      "time depends on what else ran, CPU time is the comparable cost.", ""
  ]
  for noise, table in result["noises"].items():
    lines += [
        f"## Noise {noise}: {table['mislabelled']} of {table['examples']} "
        f"mislabelled; cleanlab flags {table['cleanlab_flagged']}", "",
        "| ranking | P / R / F1 at cleanlab's count | P / R / F1 at the true "
        "count | AUROC | training wall / CPU (s) |", "|---|---|---|---|---|"
    ]
    for name, m in table["rankings"].items():
      a, t = m["at_cleanlab_count"], m["at_true_count"]
      lines.append(f"| {name} | {a['precision']} / {a['recall']} / {a['f1']} "
                   f"| {t['precision']} / {t['recall']} / {t['f1']} | "
                   f"{m['auroc']} | {m['training_wall_s']} / "
                   f"{m['training_cpu_s']} |")
    lines.append("")
  return lines


def main(argv):
  del argv
  import cleanlab  # pylint: disable=g-import-not-at-top
  result = {
      "machine": hostinfo.host(),
      "cleanlab_version": cleanlab.__version__,
      "noises": {}
  }
  curves = {}
  for noise in FLAGS.noises or NOISES:
    contenders, mislabelled, flagged = measure_noise(noise)
    curves[noise] = (contenders, mislabelled)
    result["noises"][noise] = {
        "examples": int(len(mislabelled)),
        "mislabelled": int(mislabelled.sum()),
        "cleanlab_flagged": flagged,
        "rankings": summarise(contenders, mislabelled, flagged)
    }
  os.makedirs(FLAGS.results_dir, exist_ok=True)
  draw(curves, os.path.join(FLAGS.results_dir, "label_issues.png"))
  hostinfo.write_results(FLAGS.results_dir, "label_issues", result,
                         lines_for(result))


if __name__ == "__main__":
  app.run(main)
