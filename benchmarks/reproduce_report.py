"""Tables and pictures of `reproduce.py`: one protocol's, and the scale table.

A run's record (`run_record`) is read from its folder: test accuracy per
checkpoint from the evaluation job's `eval.csv`, the training loss and the
noise diagnostics from its TensorBoard summaries, wall and CPU time and the
number of resumes from `reproduce_history.json`. Records of earlier runs of
the same protocol kept in a results JSON join the new ones (`merge_runs`), so
a table grows as runs are added, never loses one.
"""

import json
import os
import platform
import re
import shlex
import statistics

import hostinfo

PAPER = {  # CIFAR-10 CifarNet, the paper's Table (original README)
    "0.4": {"baseline": 0.720, "self_paced": 0.733, "focal_loss": 0.695,
            "mentornet_pd": 0.731, "mentornet_dd": 0.763},
    "0.8": {"baseline": 0.290, "self_paced": 0.272, "focal_loss": 0.309,
            "mentornet_pd": 0.312, "mentornet_dd": 0.461},
}
PAPER_DD_MARGIN = {"0.4": 0.043, "0.8": 0.171}
# MentorMix's README (ResNet-32, CIFAR-10, 200,000 steps); no CifarNet figure.
MENTORMIX_PAPER = {"0.4": 0.944, "0.8": 0.820}
# MentorMix and its variants: the table's choice, or second reweighting
# forced off or on (for ablations: --methods=mentormix_no2nd).
MENTORMIX_METHODS = {
    "mentormix": None,
    "mentormix_no2nd": False,
    "mentormix_2nd": True
}
# The paper's figure for a method run as the original commands ran it: the
# paper's runs were those.
AS_RUN = {
    "mentornet_dd_as_run": "mentornet_dd",
    "mentornet_pd_as_run": "mentornet_pd"
}
NOISE_TAGS = ("weight_share_clean", "mean_weight_clean", "mean_weight_noisy")
SCALE_METHODS = ("baseline", "mentornet_dd", "mentornet_dd_as_run")
MARGIN_TITLES = {
    "mentornet_dd": "MentorNet DD",
    "mentornet_dd_as_run": "MentorNet DD as the original ran it",
    "mentornet_pd": "MentorNet PD",
    "mentormix": "MentorMix"
}

# ---------------------------------------------------------------- reading


def read_scalars(log_dir, prefix):
  """{tag: [(step, value)]} of a run's TensorBoard scalars under `prefix`
  (`mentornet_plot`'s reader)."""
  from mentornet.evaluation import compare  # pylint: disable=g-import-not-at-top
  return compare.read_scalars(log_dir, (prefix,))


def noise_record(log_dir):
  """The run's noise diagnostics: per summary, and over its last summary."""
  tags = read_scalars(log_dir, "noise/")
  series = {name: tags.get(f"noise/{name}", []) for name in NOISE_TAGS}
  return {
      "steps": [step for step, _ in series["weight_share_clean"]],
      "series": {
          k: [v for _, v in points] for k, points in series.items()
      },
      "final": {
          k: points[-1][1] for k, points in series.items() if points
      }
  }


def read_eval_csv(path):
  """{step: accuracy} of an evaluation CSV (empty when there is none)."""
  out = {}
  if not os.path.exists(path):
    return out
  with open(path) as f:
    for line in f:
      fields = line.strip().split(",")
      if len(fields) == 3 and fields[0].isdigit():
        out[int(fields[0])] = float(fields[1])
  return out


def history_figures(log_dir):
  """Wall and CPU time (training and evaluation) and resumes of a run."""
  path = os.path.join(log_dir, "reproduce_history.json")
  parts = []
  if os.path.exists(path):
    with open(path) as f:
      parts = json.load(f)
  return {
      "train_seconds": sum(p.get("wall_seconds", 0) for p in parts),
      "train_cpu_seconds": sum(p.get("train_cpu_seconds", 0) for p in parts),
      "eval_cpu_seconds": sum(p.get("eval_cpu_seconds", 0) for p in parts),
      "resumes": max(0,
                     len(parts) - 1),
      "parts_lost": sum(1 for p in parts if p.get("lost") or p.get("open")),
      "hosts": sorted({p["cpu"] for p in parts if "cpu" in p})
  }


def at_step(diagnostics, step):
  """The noise diagnostics of the last summary at or before `step` (the
  summary of the steps that led to that checkpoint)."""
  steps = diagnostics.get("steps", [])
  index = max((i for i, s in enumerate(steps) if s <= step), default=None)
  if index is None:
    return {}
  return {
      k: v[index] for k, v in diagnostics["series"].items() if len(v) > index
  }


def run_record(log_dir):
  """Everything the tables give of one run, read from its folder."""
  accuracy = read_eval_csv(os.path.join(log_dir, "eval.csv"))
  if not accuracy:
    raise ValueError(f"{log_dir}/eval.csv holds no evaluated checkpoint")
  losses = read_scalars(log_dir, "train/loss").get("train/loss", [])
  diagnostics = noise_record(log_dir)
  best_step = max(accuracy, key=accuracy.get)
  record = {
      "final_accuracy": accuracy[max(accuracy)],
      "best_accuracy": accuracy[best_step],
      "best_step": best_step,
      "steps_reached": max(accuracy),
      "accuracy_by_step": {
          str(k): v for k, v in sorted(accuracy.items())
      },
      "final_train_loss": losses[-1][1] if losses else None,
      "train_loss_by_step": {
          str(s): v for s, v in losses
      },
      "diagnostics": diagnostics,
      "at_best": at_step(diagnostics, best_step),
      "eval_seconds": 0
  }  # the evaluation ran beside the trainer
  record.update(history_figures(log_dir))
  return record


def progress_record(log_dir, protocol, method, noise, seed, command):
  """A finished run's result, an unfinished one's figures so far, or None."""
  done = os.path.join(log_dir, "result.json")
  if os.path.exists(done):
    with open(done) as f:
      return json.load(f)
  if not os.path.exists(os.path.join(log_dir, "eval.csv")):
    return None
  try:
    record = run_record(log_dir)
  except ValueError:
    return None
  record.update(method=method,
                noise=noise,
                seed=seed,
                protocol=protocol.name,
                command=shlex.join(command),
                unfinished=True)
  return record


def folder_of(run):
  """The protocol folder a run was kept under (older records: from its
  command's --train_log_dir)."""
  if "folder" in run:
    return run["folder"]
  match = re.search(r"runs/([^/]+)/[^/ ]+", run.get("command", ""))
  return match.group(1) if match else ""


def load_runs(results_dir, name):
  path = os.path.join(results_dir, name + ".json")
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return json.load(f).get("runs", [])


def merge_runs(new, old, keep):
  """`new` plus the runs of `old` that `keep(run)` accepts and `new` does not
  hold (same noise, method, seed), in `old`'s order first."""
  key = lambda r: (r["noise"], r["method"], r["seed"])
  fresh = {key(r): r for r in new}
  merged = [fresh.pop(key(r), r) for r in old if keep(r) or key(r) in fresh]
  return merged + [r for r in new if key(r) in fresh]


# ---------------------------------------------------------------- one protocol


def protocol_text(protocol, seed):
  seeds = ", ".join(protocol.repeat_seeds)
  images = (f"the first {protocol.images:,}"
            if protocol.train_examples else f"all {protocol.images:,}")
  return (
      f"Protocol `{protocol.name}`: CifarNet on {images} CIFAR-10 "
      "training images with uniform label noise (seed 0); training seed "
      f"{seed}" + (f" (and {seeds} for the repeated runs of "
                   f"{', '.join(protocol.repeat_methods)})" if seeds else "") +
      f"; batch 128, "
      f"{protocol.steps:,} steps (about {protocol.epochs:.0f} epochs); "
      f"learning rate 0.1, x0.1 every {protocol.decay_step:,} steps "
      f"({protocol.decay_step / protocol.steps:.0%} of "
      "training; the original 120,000-step schedule decays at 65%); a "
      f"checkpoint every {protocol.save_checkpoint_steps} steps, each "
      "evaluated on the full 10,000-image test split; the noise diagnostics "
      f"summarised every {protocol.save_summaries_steps} steps; per-method "
      "flags as in the grid (`commands/methods.tsv`; `mentornet_dd_as_run`: "
      "DD with the percentile the original commands really used, 0.7, "
      "because they misspelled the flag). MentorNet DD is the shipped "
      "curriculum learned on CIFAR-10 with 20% noise "
      "(`commands/learn_mentornet_dd.sh`). MentorMix takes its own grid's "
      "CIFAR-10 row at each noise (`commands/mentormix.tsv`: mixup alpha, "
      "percentile, second reweight; MentorNet PD, burn-in 10) on this same "
      "network and schedule, and is scored, as its original evaluation did, "
      "on the moving average of its weights (decay 0.9999 with TF 1's "
      "num_updates ramp).")


def _noise_cells(values):
  return " | ".join(
      f"{values[k]:.3f}" if k in values else "" for k in NOISE_TAGS)


def paper_figure(method, noise):
  if method in MENTORMIX_METHODS:
    return None
  return PAPER.get(noise, {}).get(AS_RUN.get(method, method))


def paper_cell(r):
  if r["method"] in MENTORMIX_METHODS:  # no CifarNet figure: its network's
    return f"({MENTORMIX_PAPER[r['noise']]:.3f} ResNet-32)"
  figure = paper_figure(r["method"], r["noise"])
  return "" if figure is None else f"{figure:.3f}"


def _row(r):
  return (f"| {r['noise']} | {r['method']} | {r['seed']} | "
          f"{r['final_accuracy']:.4f} | "
          f"{r['best_accuracy']:.4f} ({r['best_step']}) | "
          f"{100 * (r['final_accuracy'] - r['best_accuracy']):+.1f} points | "
          f"{_noise_cells(r.get('diagnostics', {}).get('final', {}))} | "
          f"{paper_cell(r)} | "
          f"{r['train_seconds'] / 60:.1f} min |")


def margin_lines(by, method, noises):
  """`method` minus baseline (final accuracy) per seed, mean and spread."""
  seeds = sorted({seed for (_, _, seed) in by})
  lines = [
      "| noise | " + " | ".join(f"seed {s}" for s in seeds) +
      " | mean | spread (min to max; sd) | paper's margin | met |",
      "|---|" + "---|" * len(seeds) + "---|---|---|---|"
  ]
  for noise in noises:
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
    spread = (f"{100 * min(values):+.1f} to {100 * max(values):+.1f}" +
              (f"; sd {100 * statistics.stdev(values):.1f}"
               if len(values) > 1 else ""))
    paper_method = AS_RUN.get(method, method)
    if paper_method == "mentornet_dd":
      paper = PAPER_DD_MARGIN[noise]
      paper_text = f"{100 * paper:+.1f} points"
      met = ("yes" if mean >= paper else
             f"no, short by {100 * (paper - mean):.1f} points")
    elif paper_method in PAPER.get(noise, {}):
      paper = PAPER[noise][paper_method] - PAPER[noise]["baseline"]
      paper_text, met = f"{100 * paper:+.1f} points", ""
    else:  # MentorMix reported no CifarNet baseline
      paper_text, met = "none reported", ""
    lines.append(
        f"| {noise} | " + " | ".join(
            f"{100 * margins[s]:+.1f}" if s in margins else "" for s in seeds) +
        f" | {100 * mean:+.1f} points | {spread} | {paper_text} | {met} |")
  return lines


def write_protocol_results(protocol, results, wall_seconds, seed, results_dir,
                           argv, folder_name):
  """`<results_name>.{md,json,png}`: the protocol's runs, with those of the
  same protocol (`folder_name(seed)`, the folder its runs are kept in)
  already in the JSON."""
  name = protocol.results_name

  def same_protocol(run):
    return folder_of(run) == folder_name(run["seed"])

  results = merge_runs(results, load_runs(results_dir, name), same_protocol)
  run_seconds = sum(r["train_seconds"] + r["eval_seconds"] for r in results)
  summary = {
      "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
      "cpu": hostinfo.cpu_model(),
      "protocol": protocol.name,
      "invocation_seconds": round(wall_seconds),
      "run_seconds": run_seconds,
      "runs": results
  }
  by = {(r["noise"], r["method"], r["seed"]): r for r in results}
  noises = sorted({r["noise"] for r in results}, key=float)
  methods = list(protocol.methods) + sorted({r["method"] for r in results} -
                                            set(protocol.methods))
  table_seconds = sum(r["train_seconds"] + r["eval_seconds"]
                      for r in results
                      if r["seed"] == seed)
  lines = [
      "# MentorNet reproduction at CPU scale: CifarNet on CIFAR-10", "",
      f"Command: `{shlex.join(['python', 'benchmarks/reproduce.py'] + argv)}` "
      f"({summary['cpu']}, {summary['machine']}; the main table's runs "
      f"took {table_seconds / 60:.0f} min of training and evaluation, "
      f"all {len(results)} runs {run_seconds / 60:.0f} min, one after the"
      " other; finished runs found in the work folder, or already in this"
      " file, are reused, not rerun).", "",
      protocol_text(protocol, seed), "",
      f"![test accuracy and clean weight share]({name}.png)", "",
      "The noise columns are over the examples of the last "
      f"{protocol.save_summaries_steps} steps: the correctly labelled "
      "examples' share of the summed weight (for the baseline, whose "
      "weights are all 1, the share of correct labels in those batches), "
      "and the mean weight of correctly labelled and of mislabelled "
      "examples.", "",
      "| noise | method | seed | final test acc. | best test acc. (step)"
      " | final - best | clean weight share | mean weight, clean | mean "
      "weight, mislabelled | paper (final, 120k steps) | train time |",
      "|---|---|---|---|---|---|---|---|---|---|---|"
  ]
  seeds = sorted({r["seed"] for r in results}, key=lambda s: (s != seed, s))
  for s in seeds:
    for noise in noises:
      for method in methods:
        if (noise, method, s) in by:
          lines.append(_row(by[(noise, method, s)]))
  for method, title in MARGIN_TITLES.items():
    if any(key[1] == method for key in by):
      lines += [
          "", f"## {title} against the baseline (final accuracy, "
          "points)", ""
      ] + margin_lines(by, method, noises)
  # The scheduled checkpoints (a run stopped by SIGTERM also saved the step
  # it reached; its score is in the JSON, not in this table).
  every = protocol.save_checkpoint_steps
  steps = sorted({
      int(k)
      for r in results
      for k in r["accuracy_by_step"]
      if int(k) % every == 0
  })
  lines += [
      "", "## Test accuracy at each checkpoint", "",
      "| noise | method | seed | " + " | ".join(map(str, steps)) + " |",
      "|---|---|---|" + "---|" * len(steps)
  ]
  for r in results:
    by_step = r["accuracy_by_step"]
    lines.append(f"| {r['noise']} | {r['method']} | {r['seed']} | " +
                 " | ".join(
                     f"{by_step[str(k)]:.3f}" if str(k) in by_step else ""
                     for k in steps) + " |")
  notes_file = protocol.notes_file
  if notes_file and os.path.exists(notes_file):
    with open(notes_file) as f:
      notes = f.read().strip()
    if notes:
      lines += ["", notes]
  lines += ["", "## Exact commands", "", "```bash"]
  lines += [r["command"] for r in results] + ["```"]
  hostinfo.write_results(results_dir, name, summary, lines)
  plot_protocol(summary, protocol, seed, os.path.join(results_dir,
                                                      name + ".png"))


def replot(protocol, results_dir, seed):
  with open(os.path.join(results_dir, protocol.results_name + ".json")) as f:
    plot_protocol(json.load(f), protocol, seed,
                  os.path.join(results_dir, protocol.results_name + ".png"))


def plot_protocol(summary, protocol, seed, path):
  """Test accuracy per checkpoint of every method (top) and the clean weight
  share over training of every method with weights (bottom), one column per
  noise, training seed `seed`."""
  from mentornet.evaluation import plot  # pylint: disable=g-import-not-at-top
  plt = plot.pyplot()
  runs = {
      (r["noise"], r["method"]): r for r in summary["runs"] if r["seed"] == seed
  }
  noises = sorted({k[0] for k in runs}, key=float)
  methods = list(
      protocol.methods) + sorted({k[1] for k in runs} - set(protocol.methods))
  fig, axes = plt.subplots(2,
                           len(noises),
                           figsize=(5.5 * len(noises), 7.5),
                           squeeze=False)
  for column, noise in enumerate(noises):
    top, bottom = axes[0][column], axes[1][column]
    for index, method in enumerate(methods):
      r = runs.get((noise, method))
      if r is None:
        continue
      color = f"C{index % 10}"  # one per method
      curve = sorted((int(k), v) for k, v in r["accuracy_by_step"].items())
      top.plot(*zip(*curve),
               marker="o",
               markersize=3,
               label=method,
               color=color)
      series = r.get("diagnostics", {})
      if series.get("steps"):
        bottom.plot(series["steps"],
                    series["series"]["weight_share_clean"],
                    label=method,
                    color=color)
    top.set_title(f"noise {noise}: test accuracy per checkpoint")
    top.set_xlabel("step")
    top.set_ylabel("test accuracy")
    top.legend(fontsize=8)
    bottom.set_title(f"noise {noise}: correctly labelled share of the weight")
    bottom.set_xlabel("step")
    bottom.set_ylabel("weight share of correct labels")
    plot.legend_or_note(bottom, "no run kept the noise diagnostics")
  fig.suptitle(
      f"CifarNet on {protocol.images:,} noisy CIFAR-10 images, "
      f"{protocol.steps:,} steps, training seed {seed}\n"
      f"({summary['cpu']})",
      fontsize=10)
  fig.tight_layout()
  plot.save_png(fig, path)


# ---------------------------------------------------------------- scale table


def scale_margins(runs):
  """{(protocol, method): {seed: DD - baseline}} of final accuracies, over
  finished runs whose baseline of the same seed finished too."""
  by = {
      (r["protocol"], r["method"], r["seed"]): r
      for r in runs
      if not r.get("unfinished")
  }
  out = {}
  for (protocol, method, seed), r in by.items():
    base = by.get((protocol, "baseline", seed))
    if method != "baseline" and base:
      out.setdefault((protocol, method),
                     {})[seed] = (r["final_accuracy"] - base["final_accuracy"])
  return out


def _fmt(value, digits=3):
  return "" if value is None else f"{value:.{digits}f}"


def write_scale_results(protocols, runs, results_dir, name):
  """`<name>.{md,json,png}`: noise 0.8 in every protocol, side by side."""
  order = list(protocols)
  runs = sorted(
      runs,
      key=lambda r:
      (order.index(r["protocol"]), r["seed"], SCALE_METHODS.index(r["method"])))
  base = {
      (r["protocol"], r["seed"]): r
      for r in runs
      if r["method"] == "baseline" and not r.get("unfinished")
  }
  summary = {
      "cpu": hostinfo.cpu_model(),
      "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
      "protocols": {
          k: {
              "images": p.images,
              "steps": p.steps,
              "decay_step": p.decay_step,
              "epochs": round(p.epochs, 1)
          } for k, p in protocols.items()
      },
      "runs": runs
  }
  lines = [
      "# The 80%-noise claim at three scales: CifarNet on CIFAR-10 at noise "
      "0.8", "",
      "Made by `python benchmarks/reproduce.py --protocol=...` for each "
      "protocol (see `benchmarks/reproduce.py`; redrawn with `--scale_only`)."
      " Hosts: " + "; ".join(
          sorted({h for r in runs for h in r.get("hosts", [])} or
                 {hostinfo.host()})) + ".", "",
      "| protocol | images | steps | epochs | decay at step |",
      "|---|---|---|---|---|"
  ]
  for key, p in protocols.items():
    lines.append(f"| {key} | {p.images:,} | {p.steps:,} | {p.epochs:.0f} | "
                 f"{p.decay_step:,} ({p.decay_step / p.steps:.0%}) |")
  lines += [
      "", f"![accuracy, clean weight share and margin by scale]({name}.png)",
      "", "Noise columns: the correctly labelled examples' share of the summed "
      "curriculum weight, and the mean weights of correctly labelled and of "
      "mislabelled examples, over the last summary interval, at the end and "
      "at the best checkpoint (peak). Margin: final accuracy minus the same "
      "protocol's and seed's baseline. Paper (CifarNet, noise 0.8, final): "
      "baseline 0.290, DD 0.461 (+17.1 points). `mentornet_dd` is DD with "
      "the written percentile (0.5), `mentornet_dd_as_run` with the 0.7 the "
      "original commands really ran.", "",
      "| protocol | method | seed | steps reached | final acc. | best acc. "
      "(step) | final - best | margin | clean share, end | w clean, end | "
      "w mislabelled, end | clean share, peak | w clean, peak | "
      "w mislabelled, peak | train loss, end | wall | CPU (train + eval) | "
      "resumes |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
      "---|"
  ]
  for r in runs:
    total = protocols[r["protocol"]].steps
    reached = r.get("steps_reached", max(map(int, r["accuracy_by_step"])))
    b = base.get((r["protocol"], r["seed"]))
    margin = ("" if r["method"] == "baseline" or not b or r.get("unfinished")
              else f"{100 * (r['final_accuracy'] - b['final_accuracy']):+.1f}")
    end = r.get("diagnostics", {}).get("final", {})
    peak = r.get("at_best") or at_step(r.get("diagnostics", {}), r["best_step"])
    cpu = r.get("train_cpu_seconds", 0) + r.get("eval_cpu_seconds", 0)
    lines.append(
        f"| {r['protocol']} | {r['method']} | {r['seed']} | "
        f"{reached:,} of {total:,}{' (running)' if r.get('unfinished') else ''}"
        f" | {r['final_accuracy']:.4f} | {r['best_accuracy']:.4f} "
        f"({r['best_step']}) | "
        f"{100 * (r['final_accuracy'] - r['best_accuracy']):+.1f} | {margin} | "
        f"{_noise_cells(end)} | {_noise_cells(peak)} | "
        f"{_fmt(r.get('final_train_loss'))} | "
        f"{r['train_seconds'] / 3600:.2f} h | {cpu / 3600:.2f} h | "
        f"{r.get('resumes', 0)} |")
  margins = scale_margins(runs)
  lines += [
      "", "## Margin over the baseline (final accuracy, points)", "",
      "| protocol | method | per seed | mean | paper |", "|---|---|---|---|---|"
  ]
  for (protocol, method), by_seed in sorted(margins.items(),
                                            key=lambda kv:
                                            (order.index(kv[0][0]), kv[0][1])):
    values = [by_seed[s] for s in sorted(by_seed)]
    lines.append(f"| {protocol} | {method} | " + ", ".join(
        f"{100 * v:+.1f} (seed {s})" for s, v in sorted(by_seed.items())) +
                 f" | {100 * statistics.fmean(values):+.1f} | +17.1 |")
  lines += ["", "## Exact commands", "", "```bash"]
  lines += [r["command"] for r in runs] + ["```"]
  hostinfo.write_results(results_dir, name, summary, lines)
  plot_scale(summary, protocols, margins,
             os.path.join(results_dir, name + ".png"))


LINESTYLES = {"cpu_1k": ":", "cpu_5k_long": "--", "paper": "-"}
COLORS = {"baseline": "C0", "mentornet_dd": "C4", "mentornet_dd_as_run": "C3"}


def plot_scale(summary, protocols, margins, path):
  """Accuracy per checkpoint and clean weight share against epochs (one
  colour per method, one line style per protocol, seed 0), and DD -
  baseline against the protocol with the paper's +17.1."""
  from mentornet.evaluation import plot  # pylint: disable=g-import-not-at-top
  plt = plot.pyplot()
  fig, (acc_ax, share_ax, margin_ax) = plt.subplots(1, 3, figsize=(17, 6))
  for r in summary["runs"]:
    if r["seed"] != 0:
      continue
    p = protocols[r["protocol"]]
    per_step = 128 / p.images
    label = f"{r['protocol']} {r['method']}" + (" (running)"
                                                if r.get("unfinished") else "")
    style = dict(color=COLORS.get(r["method"], "k"),
                 linestyle=LINESTYLES.get(r["protocol"], "-"))
    curve = sorted((int(k), v) for k, v in r["accuracy_by_step"].items())
    acc_ax.plot([s * per_step for s, _ in curve], [v for _, v in curve],
                marker="o",
                markersize=2,
                label=label,
                **style)
    series = r.get("diagnostics", {})
    if series.get("steps"):
      share_ax.plot([s * per_step for s in series["steps"]],
                    series["series"]["weight_share_clean"],
                    label=label,
                    **style)
  acc_ax.axhline(0.290, color="C0", linewidth=0.8, alpha=0.6)
  acc_ax.axhline(0.461, color="C3", linewidth=0.8, alpha=0.6)
  acc_ax.text(2, 0.292, "paper baseline 0.290", fontsize=7, color="C0")
  acc_ax.text(2, 0.463, "paper DD 0.461", fontsize=7, color="C3")
  acc_ax.set(title="test accuracy per checkpoint (seed 0)",
             xlabel="epoch",
             ylabel="test accuracy")
  share_ax.set(title="correctly labelled share of the weight (seed 0)",
               xlabel="epoch",
               ylabel="weight share of correct labels")
  # One legend for the two panels of runs, below them: inside, it hid the
  # paper cell's curve.
  fig.legend(*acc_ax.get_legend_handles_labels(),
             loc="lower left",
             bbox_to_anchor=(0.04, 0.0),
             ncol=4,
             fontsize=7)
  names = list(protocols)
  for method, offset in (("mentornet_dd", -0.08), ("mentornet_dd_as_run",
                                                   0.08)):
    xs, ys, means = [], [], []
    for i, protocol in enumerate(names):
      by_seed = margins.get((protocol, method), {})
      xs += [i + offset] * len(by_seed)
      ys += [100 * v for v in by_seed.values()]
      if by_seed:
        means.append((i + offset, 100 * statistics.fmean(by_seed.values())))
    margin_ax.scatter(xs, ys, color=COLORS[method], s=14, alpha=0.6)
    if means:
      margin_ax.plot(*zip(*means),
                     color=COLORS[method],
                     marker="D",
                     label=f"{method} (mean; dots: seeds)")
  margin_ax.axhline(17.1, color="k", linestyle="--", linewidth=1)
  margin_ax.text(-0.3, 17.6, "paper: +17.1", fontsize=8)
  margin_ax.axhline(0, color="grey", linewidth=0.6)
  margin_ax.set_xticks(range(len(names)))
  margin_ax.set_xticklabels(
      [f"{n}\n{protocols[n].images:,} images" for n in names])
  margin_ax.set_xlim(-0.5, len(names) - 0.5)
  margin_ax.set(title="DD - baseline at noise 0.8 (final accuracy)",
                ylabel="points")
  margin_ax.legend(fontsize=7)
  fig.suptitle(
      f"CifarNet, CIFAR-10, noise 0.8, at three scales "
      f"({summary['cpu']})",
      fontsize=10)
  fig.tight_layout(rect=(0, 0.1, 1, 1))
  plot.save_png(fig, path)
