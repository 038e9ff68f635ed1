"""Does the shipped DD weigh noise-0.8 examples as a DD learned at 0.8 would?

  python benchmarks/dd_transfer.py [--protocol=paper] [--percentiles=50,70]

The shipped MentorNet DD (`mentornet_models/models/nl_0.2_percentile_90`) was
learned from a 3,000-step CifarNet at noise 0.2 and, as in the original
commands, weighs examples at every noise level. This learns a DD the same
way at noise 0.8, from the protocol's baseline at its burn-in checkpoint (the
first regular one from epoch 18 on, as `scale_analysis.py` reads it): the
losses of a seeded 10% of the training images (`loss_dump.select_subset`,
seed 0, epoch column 18), `data_generator.py --vstar_fn=data_driven`, and
`train.py` at the 90th percentile for 30,000 steps, seed 0 (the shipped
DD's recipe). Then both MentorNets weigh the other 90% of the images, the
losses of the same checkpoint, as the curriculum would at the burn-in epoch,
with the moving average at each percentile of `--percentiles` (0.5 as the
noise-0.8 command writes it, 0.7 as the original ran it) taken over every
image's loss, and at the moving average each DD run of the protocol had
reached at the same step (training-mode losses on augmented images run
higher than the dump's). Invariants: the two MentorNets see the same losses; no image
that taught the learned DD is scored; the learned DD, its data and the loss
dumps stay in `<work_dir>/dd_transfer/` (reused when present).
With `--train_methods`, also trains those DD methods on the protocol with
the DD learned at 0.8 (run folder beside it; resumable) and sets their
accuracy beside the shipped DD's run and the baseline's.
Writes `benchmarks/results/dd_transfer_<protocol>.{md,json}`.
"""

import json
import os
import subprocess
import sys
import tempfile

from absl import app
from absl import flags
import numpy as np

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
import hostinfo
import reproduce
import scale_analysis
from mentornet import files
from mentornet.evaluation import label_issues
from mentornet.evaluation import loss_dump

flags.DEFINE_list("percentiles", ["50", "70"],
                  "Moving-average percentiles to weigh at (the runs' flag).")
flags.DEFINE_enum(
    "learn_from", None, list(reproduce.PROTOCOLS),
    "Learn the DD at 0.8 from this protocol's baseline (default: "
    "--protocol's; another protocol's images are all scored).")
flags.DEFINE_list(
    "train_methods", [],
    "DD methods of commands/methods.tsv to run again on the protocol (noise "
    "0.8, seed 0, its schedule and flags) with the DD learned at 0.8 in "
    "place of the shipped one; each run's accuracy beside the shipped DD's.")
FLAGS = flags.FLAGS
FLAGS.set_default("protocol", "paper")

LEARN_FRACTION = 0.1
LEARN_PERCENTILE = 90
MENTORNET_STEPS = 30000
LOSS_QUANTILES = (10, 25, 50, 75, 90)


def weight_stats(weights, clean):
  """How `weights` treat correctly labelled (`clean`) and mislabelled
  examples: AUROC for "is clean", mean weights, the clean share of the
  weight, and the accuracy of `weight > 0.5` as "is clean"."""
  weights = np.asarray(weights, np.float64)
  clean = np.asarray(clean, bool)
  return {
      "weight_auroc": label_issues.auroc(weights, clean),
      "mean_weight_clean": float(weights[clean].mean()),
      "mean_weight_mislabelled": float(weights[~clean].mean()),
      "clean_share": float(weights[clean].sum() / weights.sum()),
      "accuracy_at_half": float(np.mean((weights > 0.5) == clean)),
  }


def learning_rows(ids, noisy, clean, losses, mask, epoch):
  """The loss-dump lines (`id epoch noisy clean loss`) of the masked
  examples, with the epoch column set to `epoch`."""
  return "".join(
      loss_dump.format_row(int(i), epoch, int(n), int(c), float(l))
      for i, n, c, l in zip(ids[mask], noisy[mask], clean[mask], losses[mask]))


def learn_dd(out_dir, rows_text):
  """Learns the DD from `rows_text` as `commands/learn_mentornet_dd.sh`
  does (generator, then train.py); returns its directory. Reused when its
  final checkpoint is there."""
  model = os.path.join(out_dir, f"nl_0.8_percentile_{LEARN_PERCENTILE}",
                       "mentornet_dd")
  if os.path.exists(os.path.join(model, f"mentornet-{MENTORNET_STEPS}.index")):
    return model
  dump_file = os.path.join(out_dir, "nl_0.8.txt")
  files.write_text_atomically(dump_file, rows_text)
  data = os.path.join(out_dir, "data")
  subprocess.run([
      sys.executable, "code/training_mentornet/data_generator.py",
      "--vstar_fn=data_driven", f"--input_csv_filename={dump_file}",
      f"--outdir={data}", "--seed=0"
  ],
                 check=True)
  subprocess.run([
      sys.executable, "code/training_mentornet/train.py",
      f"--data_path={data}/nl_0.8_percentile_{LEARN_PERCENTILE}",
      f"--train_dir={model}", f"--max_step_train={MENTORNET_STEPS}", "--seed=0"
  ],
                 check=True)
  return model


def percentile_averages(losses, percentiles):
  """{"p<p> of these losses": the p-th percentile of every image's loss}."""
  return {
      f"p{p} of these losses": float(np.percentile(losses, p))
      for p in percentiles
  }


def run_averages(protocol, step):
  """{"<method>'s, training": its curriculum's moving average at `step`} for
  each DD run of the protocol (seed 0) with a checkpoint at `step`: the
  average of training-mode losses on augmented images, which the dump's
  unaugmented inference-mode losses do not reproduce."""
  out = {}
  for method in scale_analysis.DD_METHODS:
    found = scale_analysis.run_checkpoints(protocol, method)[2]
    if step in found:
      out[f"{method}'s, training"] = scale_analysis.moving_average(
          os.path.join(found[step], f"model.ckpt-{step}"))
  return out


def compare(nets, losses, clean, scored, averages, epoch):
  """{net name: {average name: stats}} over the `scored` examples with the
  moving average at each of `averages` ({name: value}), plus each net's
  weight at the scored losses' quantiles."""
  out = {}
  quantiles = np.percentile(losses[scored], LOSS_QUANTILES)
  for name, net in nets.items():
    out[name] = {}
    for label, average in averages.items():
      weights = scale_analysis.mentor_weights(net, losses[scored], average,
                                              epoch)
      entry = weight_stats(weights, clean[scored])
      entry["moving_average"] = average
      entry["weight_at_loss_quantiles"] = [
          float(w) for w in scale_analysis.mentor_weights(
              net, quantiles.astype(np.float64), average, epoch)
      ]
      out[name][label] = entry
  return out, [float(q) for q in quantiles]


def learned_command(protocol, method, model, log_dir):
  """The protocol's command for `method` with `model` as its MentorNet."""
  command = reproduce.train_command(protocol, method, "0.8",
                                    reproduce.data_root_of(protocol), log_dir,
                                    0)
  flag = "--trained_mentornet_dir="
  if not any(a.startswith(flag) for a in command):
    raise SystemExit(f"--train_methods: {method} uses no MentorNet")
  return [f"{flag}{model}" if a.startswith(flag) else a for a in command]


def run_summary(result):
  """The figures compared per run: accuracy, and the weights at the end."""
  return {
      k: result.get(k) for k in ("final_accuracy", "best_accuracy", "best_step",
                                "final_train_loss", "command")
  } | {
      "weights_at_end": result.get("diagnostics", {}).get("final", {})
  }


def train_with_learned(protocol, method, model, learned_from):
  """Runs (or resumes) `method` with the learned DD; its summary beside the
  shipped DD's run and the baseline's, where those finished."""
  log_dir = os.path.join(FLAGS.work_dir, "dd_transfer", protocol.name,
                         f"0.8_{method}_dd_from_{learned_from}")
  result = reproduce.run_logged(
      log_dir, learned_command(protocol, method, model, log_dir),
      reproduce.eval_command(log_dir, reproduce.data_root_of(protocol)),
      dict(method=f"{method}, DD learned at 0.8 ({learned_from})",
           noise="0.8",
           seed=0,
           protocol=protocol.name,
           folder=reproduce.protocol_name(protocol, 0)))
  out = {"DD learned at 0.8": run_summary(result)}
  for name, m in (("shipped DD", method), ("baseline", "baseline")):
    done = os.path.join(reproduce.log_dir_of(protocol, m, "0.8", 0),
                        "result.json")
    if os.path.exists(done):
      with open(done) as f:
        out[name] = run_summary(json.load(f))
  return out


def baseline_losses(protocol, tmp):
  """(step, ids, noisy, clean, losses) of the protocol's baseline at its
  burn-in checkpoint, every training image."""
  run_dir, archive, found = scale_analysis.run_checkpoints(protocol, "baseline")
  step = scale_analysis.burn_in_step(found, protocol)
  if step is None:
    raise SystemExit(f"no burn-in checkpoint of {run_dir} (nor {archive}); "
                     f"run `reproduce.py --protocol={protocol.name}` first")
  data_dir = os.path.join(reproduce.data_root_of(protocol), "cifar10", "0.8")
  return (step,) + tuple(
      scale_analysis.dump(run_dir, found[step], step, data_dir, tmp))


def learned_where(r):
  source = r.get("learned_from", r["protocol"])
  return ("of them" if source == r["protocol"] else
          f"images of the `{source}` baseline, at its own burn-in checkpoint")


def len_images(r):
  return reproduce.PROTOCOLS[r["protocol"]].images


def report_lines(result):
  r = result
  lines = [
      "# Does the shipped DD weigh noise-0.8 examples as a DD learned at 0.8 "
      "would?", "",
      f"`python benchmarks/dd_transfer.py --protocol={r['protocol']}` "
      f"({r['host']}). Losses: the `{r['protocol']}` baseline at step "
      f"{r['step']:,} (burn-in), unaugmented, every training image. The DD "
      f"learned at 0.8 saw {r['learned_on']:,} "
      f"{learned_where(r)} (a seeded "
      f"{LEARN_FRACTION:.0%}, epoch column {scale_analysis.BURN_IN_EPOCH}, "
      f"{MENTORNET_STEPS:,} steps at the {LEARN_PERCENTILE}th percentile, "
      f"as the shipped DD was learned at 0.2); both weigh "
      f"{'the other ' if r['scored'] < len_images(r) else ''}"
      f"{r['scored']:,} ({r['clean_fraction']:.3f} correctly labelled, loss "
      f"AUROC {r['loss_auroc']:.3f}) at epoch {scale_analysis.BURN_IN_EPOCH}, "
      "the moving average at the given percentile of every image's loss, or "
      "at the one a DD run's curriculum held at that step (its training-mode "
      "losses). Those rows put a training-mode average beside these "
      "inference-mode losses, so they overstate the weights: what the run "
      "itself gave is in its noise diagnostics (`reproduce_cpu_scale.md`).", "",
      "| MentorNet | moving average | value | weight AUROC | mean weight,"
      " clean | mean weight, mislabelled | clean share of the weight | "
      "accuracy of weight > 0.5 as \"clean\" |",
      "|---|---|---|---|---|---|---|---|"
  ]
  for name, by_p in r["nets"].items():
    for p, e in by_p.items():
      lines.append(
          f"| {name} | {p} | {e['moving_average']:.3f} | "
          f"{e['weight_auroc']:.3f} | {e['mean_weight_clean']:.3f} | "
          f"{e['mean_weight_mislabelled']:.3f} | {e['clean_share']:.3f} | "
          f"{e['accuracy_at_half']:.3f} |")
  heads = " | ".join(f"loss {q:.2f} (p{k})"
                     for q, k in zip(r["loss_quantiles"], LOSS_QUANTILES))
  lines += [
      "", "The weight each gives at quantiles of the scored losses:", "",
      f"| MentorNet | moving average | {heads} |",
      "|---|---|" + "---|" * len(LOSS_QUANTILES)
  ]
  for name, by_p in r["nets"].items():
    for p, e in by_p.items():
      lines.append(f"| {name} | {p} | " + " | ".join(
          f"{w:.3f}" for w in e["weight_at_loss_quantiles"]) + " |")
  return lines + trained_lines(r.get("trained", {}))


def trained_lines(trained):
  """The table of runs trained with the DD learned at 0.8 (`--train_methods`),
  each beside the shipped DD's run and the baseline."""
  if not trained:
    return []
  lines = [
      "", "Trained with each MentorNet (the protocol's flags, seed 0; weights "
      "at the end from the run's noise diagnostics):", "",
      "| method | MentorNet | final acc. | best acc. (step) | DD - baseline "
      "| clean share of the weight | mean weight, clean | mean weight, "
      "mislabelled | training loss at the end |",
      "|---|---|---|---|---|---|---|---|---|"
  ]
  for method, runs in trained.items():
    base = runs.get("baseline", {}).get("final_accuracy")
    for name, e in runs.items():
      w = e["weights_at_end"]
      margin = ("" if name == "baseline" or base is None else
                f"{100 * (e['final_accuracy'] - base):+.1f}")
      lines.append(
          f"| {method} | {name} | {e['final_accuracy']:.4f} | "
          f"{e['best_accuracy']:.4f} ({e['best_step']}) | {margin} | " +
          " | ".join(f"{w[k]:.3f}" if k in w else ""
                     for k in ("weight_share_clean", "mean_weight_clean",
                               "mean_weight_noisy")) +
          f" | {e['final_train_loss']:.3f} |")
  lines += ["", "Commands:", "", "```"] + [
      e["command"] for runs in trained.values() for e in runs.values()
  ] + ["```"]
  return lines


def main(argv):
  del argv
  cli.load_tensorflow()
  from mentornet.models import mentor  # pylint: disable=g-import-not-at-top
  protocol = reproduce.PROTOCOLS[FLAGS.protocol]
  percentiles = [int(p) for p in FLAGS.percentiles]
  if any(not 0 < p < 100 for p in percentiles):
    raise SystemExit(f"--percentiles={','.join(FLAGS.percentiles)}: each "
                     "must be an integer in 1..99")
  for method in FLAGS.train_methods:
    if method not in scale_analysis.DD_METHODS:
      raise SystemExit(f"--train_methods={method}: allowed are "
                       f"{', '.join(scale_analysis.DD_METHODS)}")
  source = reproduce.PROTOCOLS[FLAGS.learn_from or protocol.name]
  with tempfile.TemporaryDirectory() as tmp:
    step, ids, noisy, clean_labels, losses = baseline_losses(protocol, tmp)
    if source is protocol:
      taught = (ids, noisy, clean_labels, losses)
    else:
      taught = baseline_losses(source, tmp)[1:]
  out_dir = os.path.join(FLAGS.work_dir, "dd_transfer", source.name)
  os.makedirs(out_dir, exist_ok=True)
  clean = noisy == clean_labels
  learn = loss_dump.select_subset(len(taught[3]), LEARN_FRACTION, 0)
  model = learn_dd(out_dir,
                   learning_rows(*taught, learn, scale_analysis.BURN_IN_EPOCH))
  # The images that taught the DD are not scored (all are, from another
  # protocol's baseline: the DD saw only (loss, loss - average) of its own).
  scored = ~learn if source is protocol else np.ones(len(losses), bool)
  nets = {
      "shipped DD (learned at 0.2)":
          mentor.load_mentornet(scale_analysis.SHIPPED_DD),
      "DD learned at 0.8":
          mentor.load_mentornet(model)
  }
  averages = percentile_averages(losses, percentiles)
  averages.update(run_averages(protocol, step))
  by_net, quantiles = compare(nets, losses, clean, scored, averages,
                              scale_analysis.BURN_IN_EPOCH)
  result = {
      "host": hostinfo.host(),
      "protocol": protocol.name,
      "step": int(step),
      "learned_from": source.name,
      "learned_on": int(learn.sum()),
      "scored": int(scored.sum()),
      "clean_fraction": float(clean[scored].mean()),
      "loss_auroc": label_issues.auroc(losses[scored], ~clean[scored]),
      "learned_dd": model,
      "loss_quantiles": quantiles,
      "nets": by_net,
      "trained": {
          m: train_with_learned(protocol, m, model, source.name)
          for m in FLAGS.train_methods
      }
  }
  hostinfo.write_results(FLAGS.results_dir, f"dd_transfer_{protocol.name}",
                         result, report_lines(result))


if __name__ == "__main__":
  app.run(main)
