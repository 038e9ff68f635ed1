"""`--mode=label_issues`: which training labels look wrong, most suspicious
first.

A training run keeps, for every training example, how often it was trained
on after burn-in, the sum of the curriculum's weights it got and the sum of
its losses (`curriculum.evidence.LabelEvidence`, in every checkpoint).
`write_label_issues` reads them from the latest checkpoint, scores the
training images once more (unaugmented, inference mode) with its StudentNet,
and writes `label_issues.csv`: one row per training example, every id once,
ranked by suspicion:

  - by default (`--label_issues_rank_by=auto`), a run with a curriculum
    (MentorNet, MentorMix): lowest mean weight first, ties by highest mean
    loss; the baseline (every weight 1): highest mean loss first;
  - `--label_issues_rank_by=mean_loss`: highest mean loss first, for any run
    (`benchmarks/label_issues.py` found it ranks better than the weight).

Examples never counted (a run stopped before its burn-in ended) come last.
When the records carry clean labels, the true label is a column too, and
`label_issues_summary.json` gives, for each ranking (mean weight, mean loss,
the final model's loss), the precision and recall at k (k: the number of
mislabelled examples) and the AUROC of telling mislabelled from correctly
labelled examples.
"""

import csv
import os

from absl import logging
import numpy as np
import tensorflow as tf

from mentornet import errors
from mentornet import files
from mentornet.curriculum import evidence
from mentornet.data import inputs
from mentornet.data import shards
from mentornet.evaluation import evaluate
from mentornet.evaluation import watch
from mentornet.runs import run_dir

COLUMNS = ("rank", "id", "given_label", "predicted_label", "probability_given",
           "mean_weight", "mean_loss")
SUMMARY_FILE = "label_issues_summary.json"
# The rankings the summary measures: {name: suspicion score, higher first}.
RANKINGS = ("mean_weight", "mean_loss", "final_loss")


def run(config):
  """`--mode=label_issues`: checks the flags, then `write_label_issues`.

  Returns:
    The path of the CSV written.
  """
  config, _ = watch.adopt_training_config(config.with_split())
  evaluate.validate(config)
  return write_label_issues(config)


def rank_by(config):
  """The ranking `--label_issues_rank_by` asks for, "auto" resolved by the
  run's record: "mean_weight" with a curriculum, else "mean_loss".

  Raises:
    BadInput: mean_weight asked of a run without a curriculum.
  """
  saved, _ = run_dir.saved_record(config.checkpoint_dir, binding=False)
  weighs = bool(saved and
                (saved.get("use_mentornet") or saved.get("use_mentormix")))
  by = config.label_issues_rank_by
  if by == "auto":
    return "mean_weight" if weighs else "mean_loss"
  if by == "mean_weight" and not weighs:
    raise errors.BadInput(
        f"--label_issues_rank_by=mean_weight: the run in "
        f"{config.checkpoint_dir} has no curriculum (every weight is 1); "
        "rank it by mean_loss or auto")
  return by


def output_path(config):
  return config.label_issues_file or os.path.join(config.checkpoint_dir,
                                                  "label_issues.csv")


def read_evidence(path, num_examples):
  """The label evidence of the checkpoint at `path`, checked against the
  training records' count.

  Raises:
    EvalError: the checkpoint has none, or its size is not the records'.
  """
  names = dict(tf.train.list_variables(path))
  keys = {
      name: f"label_evidence/{name}/.ATTRIBUTES/VARIABLE_VALUE"
      for name in evidence.SUMS + ("start_step",)
  }
  if any(key not in names for key in keys.values()):
    raise errors.EvalError(
        f"{path} holds no label evidence: it was written by an older version"
        " of this project; train on (or rerun) with this one")
  reader = tf.train.load_checkpoint(path)
  sums = {name: reader.get_tensor(key) for name, key in keys.items()}
  if len(sums["seen"]) != num_examples:
    raise errors.EvalError(
        f"{path} kept evidence for {len(sums['seen'])} examples, but "
        f"--data_dir holds {num_examples} training records: give the run's "
        "own training records")
  sums["start_step"] = int(sums["start_step"])
  return sums


def scored_records(config, record_files):
  """One ordered pass over the records of `record_files` with the latest
  checkpoint's StudentNet (unaugmented images, inference mode).

  Returns:
    (the checkpoint's path, {"id", "label", "clean_label": [N],
    "log_probabilities": float64 [N, classes]}), in record order (the rows
    of the label evidence).
  """
  evaluator = evaluate.Evaluator(config, files=record_files)
  path = watch.latest_checkpoint(config.checkpoint_dir)
  evaluator.restore(path)
  parts = {key: [] for key in ("id", "label", "clean_label")}
  log_probabilities = []
  for batch in evaluator.dataset:
    logits = evaluator.logits(batch["image"]).numpy().astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities.append(shifted -
                             np.log(np.exp(shifted).sum(axis=1, keepdims=True)))
    for key, values in parts.items():
      values.append(batch[key].numpy())
  table = {key: np.concatenate(values) for key, values in parts.items()}
  table["log_probabilities"] = np.concatenate(log_probabilities)
  return path, table


def write_label_issues(config):
  """Writes the ranked CSV (and the summary, given clean labels); returns
  the CSV's path."""
  by = rank_by(config)
  record_files = shards.record_files(config.data_dir, config.dataset_name,
                                     config.split_name)
  path, records = scored_records(config, record_files)
  ids, labels = records["id"], records["label"]
  if len(np.unique(ids)) != len(ids):
    raise errors.EvalError(f"the records in {config.data_dir} repeat ids; "
                           "each training example needs its own")
  sums = read_evidence(path, len(ids))
  given = records["log_probabilities"][np.arange(len(ids)), labels]
  mean_weight, mean_loss = evidence.means(sums)
  order = evidence.suspicion_order(mean_weight, mean_loss, by)
  clean = records["clean_label"]
  with_truth = inputs.has_clean_labels(records)
  table = {
      "id": ids,
      "given_label": labels,
      "predicted_label": records["log_probabilities"].argmax(axis=1),
      "probability_given": np.exp(given),
      "mean_weight": mean_weight,
      "mean_loss": mean_loss
  }
  if with_truth:
    table["true_label"] = clean
  out = output_path(config)
  _write_csv(out, table, order)
  logging.info(
      "wrote %d examples, most suspicious first (by %s), to %s (checkpoint "
      "%s; sums from step %d)", len(ids), by.replace("_", " "), out, path,
      sums["start_step"])
  if with_truth:
    scores = {
        "mean_weight": -np.nan_to_num(mean_weight, nan=np.inf),
        "mean_loss": np.nan_to_num(mean_loss, nan=-np.inf),
        "final_loss": -given
    }
    summary = dict(summarise(scores, labels != clean),
                   checkpoint=path,
                   ranked_by=by,
                   start_step=sums["start_step"])
    files.write_json_atomically(
        os.path.join(os.path.dirname(out) or ".", SUMMARY_FILE), summary)
  return out


def _write_csv(path, table, order):
  """The rows in `order`, atomically."""
  columns = COLUMNS + (("true_label",) if "true_label" in table else ())
  with files.atomic_file(path, newline="") as f:
    writer = csv.writer(f)
    writer.writerow(columns)
    for rank, row in enumerate(order, 1):
      values = {"rank": rank}
      for name in columns[1:]:
        value = table[name][row]
        values[name] = (
            "" if isinstance(value, float) and np.isnan(value) else
            f"{value:.6f}" if isinstance(value, float) else int(value))
      writer.writerow(values[name] for name in columns)


def auroc(scores, positives):
  """The area under the ROC curve of `scores` (higher: more likely
  positive) for the boolean `positives`: the probability that a random
  positive scores above a random negative, ties counting half. NaN when
  either class is empty."""
  scores = np.asarray(scores, np.float64)
  positives = np.asarray(positives, bool)
  n_pos, n_neg = positives.sum(), (~positives).sum()
  if not n_pos or not n_neg:
    return float("nan")
  order = np.argsort(scores, kind="mergesort")
  ranks = np.empty(len(scores), np.float64)
  sorted_scores = scores[order]
  # Average ranks (1-based) over ties.
  start = 0
  while start < len(scores):
    end = start
    while end + 1 < len(scores) and sorted_scores[end +
                                                  1] == sorted_scores[start]:
      end += 1
    ranks[order[start:end + 1]] = (start + end) / 2.0 + 1.0
    start = end + 1
  return float(
      (ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def precision_recall_at(scores, positives, k):
  """Precision and recall of the `k` highest scores (ties by row)."""
  positives = np.asarray(positives, bool)
  top = np.argsort(-np.asarray(scores, np.float64), kind="mergesort")[:k]
  hits = int(positives[top].sum())
  total = int(positives.sum())
  return (hits / k if k else float("nan"),
          hits / total if total else float("nan"))


def summarise(scores, mislabelled):
  """{"mislabelled": k, "examples": N, ranking: {precision_at_k,
  recall_at_k, auroc}} for each ranking's suspicion scores."""
  k = int(np.sum(mislabelled))
  out = {"examples": int(len(mislabelled)), "mislabelled": k}
  for name, score in scores.items():
    precision, recall = precision_recall_at(score, mislabelled, k)
    out[name] = {
        "precision_at_k": round(precision, 4),
        "recall_at_k": round(recall, 4),
        "auroc": round(auroc(score, mislabelled), 4)
    }
  return out
