"""Does the loss separate clean from mislabelled examples, and does DD's weight?

  python benchmarks/scale_analysis.py [--protocols=cpu_1k,cpu_5k_long,paper]

For each protocol's noise-0.8 runs of `reproduce.py` (seed 0), at the first
regular checkpoint from the burn-in epoch on (epoch 18 of 100, where DD starts
to weigh; the same step in every run, whatever stops it had) and at the final
one:
  * the baseline's per-example training losses on every training image
    (unaugmented, inference mode: `cifar_eval.py --mode=dump`) and their
    AUROC for telling mislabelled from correctly labelled examples (the chance
    that a mislabelled example's loss exceeds a correct one's);
  * the same for each DD run's own losses, and the AUROC of the weight its
    MentorNet gives them (the chance that a correct example weighs more than
    a mislabelled one), computed as the curriculum computes it: inputs
    (loss, loss - the run's moving average at that checkpoint, label 0, the
    progress epoch, held at the burn-in epoch), without the random drop-out.
Checkpoints are read from the run folders, or from `archive/` where the
queue (`reproduce_queue.sh`) hard-linked the ones the trainer's rotation
deleted. Writes `benchmarks/results/scale_analysis.{md,json}`.
"""

import os
import shutil
import subprocess
import sys
import tempfile

from absl import app
from absl import flags
import numpy as np

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
import hostinfo
import reproduce
from mentornet.evaluation import label_issues

flags.DEFINE_list("protocols", ["cpu_1k", "cpu_5k_long", "paper"],
                  "Protocols to analyse (their noise-0.8 runs, seed 0).")
flags.DEFINE_string("analysis_name", "scale_analysis",
                    "Results file name, without .md/.json.")
FLAGS = flags.FLAGS

BURN_IN_EPOCH = 18  # the DD rows' --burn_in_epoch
DD_METHODS = ("mentornet_dd", "mentornet_dd_as_run")
MOVING_AVERAGE_KEY = "curriculum/moving_average/.ATTRIBUTES/VARIABLE_VALUE"
SHIPPED_DD = "mentornet_models/models/nl_0.2_percentile_90/mentornet_dd"


def checkpoint_steps(directories):
  """{step: directory} of the complete StudentNet checkpoints found."""
  out = {}
  for directory in directories:
    if not os.path.isdir(directory):
      continue
    for name in os.listdir(directory):
      if name.startswith("model.ckpt-") and name.endswith(".index"):
        step = int(name[len("model.ckpt-"):-len(".index")])
        if any(
            n.startswith(f"model.ckpt-{step}.data-")
            for n in os.listdir(directory)):
          out.setdefault(step, directory)
  return out


def run_checkpoints(protocol, method):
  """(run folder, archive folder, {step: directory}) of the noise-0.8,
  seed-0 run of `method`: its checkpoints in the run folder, or in
  `archive/` where the queue hard-linked those the rotation deleted."""
  run_dir = reproduce.log_dir_of(protocol, method, "0.8", 0)
  archive = os.path.join(FLAGS.work_dir, "archive",
                         reproduce.protocol_name(protocol, 0), f"0.8_{method}")
  return run_dir, archive, checkpoint_steps([run_dir, archive])


def moving_average(prefix):
  """The curriculum's moving average saved in checkpoint `prefix`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return float(tf.train.load_checkpoint(prefix).get_tensor(MOVING_AVERAGE_KEY))


def burn_in_step(found, protocol):
  """The first regular checkpoint (a multiple of the protocol's interval) at
  or after the burn-in epoch, so that every run of a protocol is read at the
  same step; a stop's checkpoint only when no regular one is there."""
  burn_step = BURN_IN_EPOCH * protocol.steps / 100
  after = [s for s in found if s >= burn_step]
  regular = [s for s in after if s % protocol.save_checkpoint_steps == 0]
  return min(regular or after, default=None)


def dump(run_dir, source_dir, step, data_dir, tmp):
  """(ids, noisy, clean, losses) of every training example at `step`."""
  view = os.path.join(tmp, f"view-{os.path.basename(run_dir)}-{step}")
  os.makedirs(view)
  for name in os.listdir(source_dir):
    if name.startswith(f"model.ckpt-{step}."):
      os.link(os.path.join(source_dir, name), os.path.join(view, name))
  shutil.copy(os.path.join(run_dir, "train_config.json"), view)
  out = os.path.join(tmp, f"dump-{os.path.basename(run_dir)}-{step}.txt")
  subprocess.run([
      sys.executable, "code/cifar_eval.py", "--mode=dump",
      f"--checkpoint_dir={view}", f"--data_dir={data_dir}",
      f"--dump_file={out}", "--dump_fraction=1.0", "--batch_size=500"
  ],
                 check=True)
  rows = np.loadtxt(out, ndmin=2)
  return rows[:, 0], rows[:, 2].astype(int), rows[:, 3].astype(int), rows[:, 4]


def dd_weights(losses, checkpoint, step, total_steps):
  """The MentorNet DD's weights for `losses` at `step` of a DD run, as the
  curriculum computes them (no drop-out)."""
  from mentornet.models import mentor  # pylint: disable=g-import-not-at-top
  net = mentor.load_mentornet(SHIPPED_DD)
  average = moving_average(checkpoint)
  epoch = min(int(100 * step / total_steps), 99, BURN_IN_EPOCH)
  return mentor_weights(net, losses, average, epoch), average, epoch


def mentor_weights(net, losses, average, epoch):
  """`net`'s weights for `losses` with the moving average `average` at
  `epoch`: inputs (loss, loss - average, label 0, epoch), no drop-out."""
  features = np.stack([
      losses, losses - average,
      np.zeros_like(losses),
      np.full_like(losses, epoch)
  ], 1).astype(np.float32)
  return net.weights(features).numpy()


def analyse_run(protocol, method, tmp):
  run_dir, _, found = run_checkpoints(protocol, method)
  if not found:
    return None
  out = {}
  last = ("final" if os.path.exists(os.path.join(run_dir, "result.json")) else
          "latest (running)")
  for when, step in (("burn_in", burn_in_step(found,
                                              protocol)), (last, max(found))):
    if step is None:
      continue
    data_dir = os.path.join(reproduce.data_root_of(protocol), "cifar10", "0.8")
    _, noisy, clean, losses = dump(run_dir, found[step], step, data_dir, tmp)
    mislabelled = noisy != clean
    entry = {
        "step": step,
        "loss_auroc": label_issues.auroc(losses, mislabelled),
        "mean_loss_clean": float(losses[~mislabelled].mean()),
        "mean_loss_mislabelled": float(losses[mislabelled].mean())
    }
    if method in DD_METHODS:
      prefix = os.path.join(found[step], f"model.ckpt-{step}")
      weights, average, epoch = dd_weights(losses, prefix, step, protocol.steps)
      entry.update(weight_auroc=label_issues.auroc(weights, ~mislabelled),
                   moving_average=average,
                   epoch_fed=epoch,
                   mean_weight_clean=float(weights[~mislabelled].mean()),
                   mean_weight_mislabelled=float(weights[mislabelled].mean()))
    out[when] = entry
  return out


def main(argv):
  del argv
  cli.load_tensorflow()
  results = {}
  with tempfile.TemporaryDirectory() as tmp:
    for name in FLAGS.protocols:
      protocol = reproduce.PROTOCOLS[name]
      for method in ("baseline",) + DD_METHODS:
        found = analyse_run(protocol, method, tmp)
        if found:
          results[f"{name} {method}"] = found
  lines = [
      "# Does the loss separate clean from mislabelled examples? (noise 0.8)",
      "", f"`python benchmarks/scale_analysis.py` ({hostinfo.host()}); "
      "every training image of each run, seed 0. Loss AUROC: the chance that "
      "a mislabelled example's loss exceeds a correctly labelled one's (0.5: "
      "no separation). Weight AUROC: the chance that DD weighs a correctly "
      "labelled example more than a mislabelled one.", "",
      "| run | checkpoint | step | loss AUROC | mean loss, clean | mean loss, "
      "mislabelled | weight AUROC | mean weight, clean | mean weight, "
      "mislabelled |", "|---|---|---|---|---|---|---|---|---|"
  ]
  for run, by_when in results.items():
    for when, e in by_when.items():
      lines.append(
          f"| {run} | {when} | {e['step']:,} | {e['loss_auroc']:.3f} | "
          f"{e['mean_loss_clean']:.3f} | {e['mean_loss_mislabelled']:.3f} | " +
          (f"{e['weight_auroc']:.3f} | {e['mean_weight_clean']:.3f} | "
           f"{e['mean_weight_mislabelled']:.3f} |" if "weight_auroc" in
           e else " |  |  |"))
  hostinfo.write_results(FLAGS.results_dir, FLAGS.analysis_name, {
      "host": hostinfo.host(),
      "runs": results
  }, lines)


if __name__ == "__main__":
  app.run(main)
