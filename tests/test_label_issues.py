"""Which labels are wrong: the per-example evidence kept while training
(`curriculum.evidence`) and `--mode=label_issues` (`evaluation.label_issues`),
against NumPy re-statements."""

import csv
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers

from mentornet import config
from mentornet import training
from mentornet.curriculum import arithmetic
from mentornet.curriculum import evidence
from mentornet.curriculum import factory
from mentornet.data import inputs
from mentornet.evaluation import label_issues
from mentornet.models import mentor
from mentornet.models import students
from mentornet.training import build
from mentornet.training import keras_model

N = 12
STEPS = 10
BURN_IN = 30  # epochs: steps 0-2 of 10 weigh 1 (epochs 0, 10, 20 < 29)


def pd_curriculum(dropout="0.5,100"):
  return factory.make(config.CURRICULUM_MENTORNET,
                      mentornet=mentor.load_mentornet(
                          str(helpers.REPO / helpers.PD)),
                      max_number_of_steps=STEPS,
                      burn_in_epoch=BURN_IN,
                      example_dropout_rates=dropout,
                      seed=3)


def batches(batch=6):
  """A known sequence of (rows, losses) with repeated rows within and
  across batches."""
  rng = np.random.default_rng(0)
  for _ in range(STEPS):
    yield (rng.integers(0, N, batch).astype(np.int64),
           rng.uniform(0.1, 4.0, batch).astype(np.float32))


def numpy_sums(steps):
  """The sums re-stated: for each step after burn-in (the original's
  progress epoch >= burn-in - 1), every occurrence adds 1, its weight, its
  loss."""
  seen, weight_sum, loss_sum = (np.zeros(N) for _ in range(3))
  for step, (rows, losses, weights) in enumerate(steps):
    if arithmetic.progress_epoch(step, STEPS) < BURN_IN - 1:
      continue
    for r, l, w in zip(rows, losses, weights):
      seen[r] += 1
      weight_sum[r] += w
      loss_sum[r] += l
  return seen, weight_sum, loss_sum


def check_sums(got, steps):
  seen, weight_sum, loss_sum = numpy_sums(steps)
  np.testing.assert_array_equal(got["seen"], seen)
  np.testing.assert_allclose(got["weight_sum"], weight_sum, rtol=1e-6)
  np.testing.assert_allclose(got["loss_sum"], loss_sum, rtol=1e-6)
  assert seen.sum() == 6 * (STEPS - 3)  # burn-in steps left out


def test_the_sums_on_one_device():
  curriculum = pd_curriculum()
  sums = evidence.LabelEvidence(N)

  @tf.function
  def step(rows, losses, global_step):
    weights = curriculum(losses, global_step).weights
    sums.update(rows, losses, weights, curriculum.after_burn_in(global_step))
    return weights

  steps = []
  for global_step, (rows, losses) in enumerate(batches()):
    weights = step(rows, losses, tf.constant(global_step, tf.int64)).numpy()
    steps.append((rows, losses, weights))
  # Drop-out zeroed about half the weights after burn-in; they count as 0.
  assert 0 < sum((w == 0).sum() for _, _, w in steps[3:]) < 6 * 7
  check_sums(sums.numpy(), steps)


def test_the_sums_over_two_replicas():
  assert len(tf.config.list_logical_devices("CPU")) == 2
  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  with strategy.scope():
    curriculum = pd_curriculum()
    sums = evidence.LabelEvidence(N)

  def replica(rows, losses, global_step):
    weights = curriculum(losses, global_step).weights
    sums.update(rows, losses, weights, curriculum.after_burn_in(global_step))
    return weights

  @tf.function
  def step(rows, losses, global_step):
    return strategy.run(replica, args=(rows, losses, global_step))

  steps = []
  for global_step, (rows, losses) in enumerate(batches()):
    halves = strategy.experimental_distribute_values_from_function(
        lambda ctx, v=
        (rows, losses): tuple(x[3 * ctx.replica_id_in_sync_group:3 *
                                (ctx.replica_id_in_sync_group + 1)] for x in v))
    weights = step(*halves, tf.constant(global_step, tf.int64))
    weights = np.concatenate(
        [w.numpy() for w in strategy.experimental_local_results(weights)])
    steps.append((rows, losses, weights))
  check_sums(sums.numpy(), steps)


def test_the_baseline_counts_every_step():
  uniform = factory.make(factory.UNIFORM)
  assert bool(uniform.after_burn_in(0))
  sums = evidence.LabelEvidence(3)
  sums.update([0, 2, 2], [1.0, 2.0, 3.0], [1.0, 1.0, 1.0], True)
  sums.update([1], [5.0], [1.0], False)
  got = sums.numpy()
  np.testing.assert_array_equal(got["seen"], [1, 0, 2])
  np.testing.assert_array_equal(got["loss_sum"], [1, 0, 5])
  weight, loss = evidence.means(got)
  np.testing.assert_array_equal(weight[[0, 2]], [1, 1])
  assert np.isnan(weight[1]) and np.isnan(loss[1])


def numpy_auroc(scores, positives):
  """Every (positive, negative) pair: 1 if the positive scores higher, 1/2
  on a tie."""
  pos = [s for s, p in zip(scores, positives) if p]
  neg = [s for s, p in zip(scores, positives) if not p]
  wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
  return wins / (len(pos) * len(neg))


def test_precision_recall_and_auroc_against_numpy():
  rng = np.random.default_rng(1)
  scores = rng.integers(0, 6, 40).astype(float)  # many ties
  positives = rng.random(40) < 0.3
  assert label_issues.auroc(scores, positives) == pytest.approx(
      numpy_auroc(scores, positives))
  scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
  positives = np.array([True, False, True, True, False, False])
  assert label_issues.precision_recall_at(scores, positives,
                                          3) == (2 / 3, 2 / 3)
  assert label_issues.precision_recall_at(scores, positives, 2) == (0.5, 1 / 3)
  summary = label_issues.summarise({"s": scores}, positives)
  assert summary["mislabelled"] == 3 and summary["examples"] == 6
  assert summary["s"]["auroc"] == round(numpy_auroc(scores, positives), 4)
  assert np.isnan(label_issues.auroc([1, 2], [True, True]))


def test_the_suspicion_order():
  weight = np.array([0.9, 0.1, np.nan, 0.1, 0.5])
  loss = np.array([1.0, 2.0, np.nan, 3.0, 0.5])
  # Lowest weight first, ties by highest loss; never counted last.
  assert list(evidence.suspicion_order(weight, loss,
                                       "mean_weight")) == [3, 1, 4, 0, 2]
  assert list(evidence.suspicion_order(weight, loss,
                                       "mean_loss")) == [3, 1, 0, 4, 2]
  # Equal losses keep row order.
  assert list(evidence.suspicion_order(weight, np.ones(5),
                                       "mean_loss")) == [0, 1, 2, 3, 4]
  with pytest.raises(ValueError,
                     match="rank by one of mean_weight, mean_loss, not 'x'"):
    evidence.suspicion_order(weight, loss, "x")


def test_label_issues_of_a_demo_run(tmp_path):
  cfg = helpers.train_config(tmp_path,
                             use_mentornet=True,
                             max_number_of_steps=6,
                             burn_in_epoch=50,
                             example_dropout_rates="0.0,100")
  training.run(cfg)
  run = str(tmp_path / "run")
  proc = helpers.run_script("cifar_eval.py", "--mode=label_issues",
                            f"--checkpoint_dir={run}",
                            f"--data_dir={helpers.DEMO}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.strip() == f"wrote {run}/label_issues.csv"
  with open(tmp_path / "run" / "label_issues.csv") as f:
    rows = list(csv.DictReader(f))
  assert list(rows[0]) == list(label_issues.COLUMNS) + ["true_label"]
  ids = [int(r["id"]) for r in rows]
  assert len(ids) == 5000 and sorted(ids) == list(range(5000))
  assert [int(r["rank"]) for r in rows] == list(range(1, 5001))
  counted = [r for r in rows if r["mean_weight"]]
  assert len(counted) > 0 and all(
      not r["mean_weight"] for r in rows[len(counted):])
  weights = [float(r["mean_weight"]) for r in counted]
  assert weights == sorted(weights)  # (ties by loss: test_the_suspicion_order)
  # The training records' evidence, re-read: 3 counted steps of 16.
  sums = label_issues.read_evidence(f"{run}/model.ckpt-6", 5000)
  assert sums["seen"].sum() == 3 * 16
  assert len(counted) == np.count_nonzero(sums["seen"])
  for r in counted[:20]:
    assert 0.0 <= float(r["probability_given"]) <= 1.0
  with open(tmp_path / "run" / label_issues.SUMMARY_FILE) as f:
    summary = json.load(f)
  labels = [(int(r["given_label"]), int(r["true_label"])) for r in rows]
  assert summary["mislabelled"] == sum(g != t for g, t in labels)
  assert summary["ranked_by"] == "mean_weight"
  for name in label_issues.RANKINGS:
    assert 0.0 <= summary[name]["auroc"] <= 1.0
  # Ranked by the mean loss instead: the same rows, highest mean loss first.
  by_loss = tmp_path / "by_loss.csv"
  proc = helpers.run_script("cifar_eval.py", "--mode=label_issues",
                            f"--checkpoint_dir={run}",
                            f"--data_dir={helpers.DEMO}",
                            "--label_issues_rank_by=mean_loss",
                            f"--label_issues_file={by_loss}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  with open(by_loss) as f:
    loss_rows = list(csv.DictReader(f))
  losses = [float(r["mean_loss"]) for r in loss_rows[:len(counted)]]
  assert losses == sorted(losses, reverse=True)
  assert sorted(r["id"] for r in loss_rows) == sorted(r["id"] for r in rows)
  with open(tmp_path / label_issues.SUMMARY_FILE) as f:
    assert json.load(f)["ranked_by"] == "mean_loss"
  # Records that are not the run's are refused in one line.
  proc = helpers.run_script("cifar_eval.py", "--mode=label_issues",
                            f"--checkpoint_dir={run}",
                            f"--data_dir={helpers.VAL}", "--split_name=test")
  assert proc.returncode == 1
  assert "kept evidence for 5000 examples, but --data_dir holds 1000" in (
      proc.stderr.strip().splitlines()[-1])


def test_the_keras_path_keeps_the_scripts_sums():
  """The same model, curriculum and batches through the scripts' step and
  through `MentorNetModel.fit`: the same per-example sums."""
  steps = 6
  cfg = helpers.train_config(helpers.REPO / "unused",
                             use_mentornet=True,
                             max_number_of_steps=steps,
                             burn_in_epoch=20,
                             example_dropout_rates="0.3,100")
  data = inputs.train_dataset(cfg.data.data_dir, "cifar10",
                              students.get("inception").pad, 16)
  batches = list(data.take(steps).as_numpy_iterator())
  keras.utils.set_random_seed(0)
  model, schedule, optimizer, curriculum = training.build_training(cfg, 5000)
  script_sums = evidence.LabelEvidence(5000)
  step = training.build_step(cfg,
                             tf.distribute.get_strategy(),
                             model,
                             optimizer,
                             curriculum,
                             16,
                             evidence=script_sums)
  start = model.get_weights()
  for batch in batches:
    step(batch)

  keras.utils.set_random_seed(0)  # the same weights and dropout draws
  student = build.build_model(cfg)
  for a, b in zip(student.get_weights(), start):
    np.testing.assert_array_equal(a, b)
  fitted = keras_model.MentorNetModel(student,
                                      str(helpers.REPO / helpers.PD),
                                      max_number_of_steps=steps,
                                      burn_in_epoch=20,
                                      example_dropout_rates="0.3,100",
                                      regularization="none",
                                      num_examples=5000)
  fitted.compile(optimizer=students.get("inception").make_optimizer(schedule),
                 loss=students.example_loss)
  pairs = tf.data.Dataset.from_tensor_slices({
      k: np.stack([b[k] for b in batches]) for k in ("image", "label", "index")
  }).map(lambda b: (b["image"], {
      "label": b["label"],
      "id": b["index"]
  }))
  fitted.fit(pairs, epochs=1, verbose=0)
  got, want = fitted.label_evidence.numpy(), script_sums.numpy()
  assert want["seen"].sum() == 16 * 4  # steps 2-5 are after burn-in
  for name in evidence.SUMS:
    np.testing.assert_allclose(got[name], want[name], rtol=1e-6, err_msg=name)
  table = fitted.label_table()
  assert sorted(table["id"]) == list(range(5000))
  weights = table["mean_weight"][~np.isnan(table["mean_weight"])]
  assert np.all(np.diff(weights) >= 0)
  assert list(table["rank"][:3]) == [1, 2, 3]
  by_loss = fitted.label_table(by="mean_loss")
  losses = by_loss["mean_loss"][~np.isnan(by_loss["mean_loss"])]
  assert len(losses) == len(weights) and np.all(np.diff(losses) <= 0)


def test_a_run_without_a_curriculum_is_not_ranked_by_weight(tmp_path):
  training.run(helpers.train_config(tmp_path, max_number_of_steps=2))
  run = str(tmp_path / "run")

  def eval_config(by):
    return config.EvalConfig.from_flat(checkpoint_dir=run,
                                       data_dir=helpers.DEMO,
                                       mode="label_issues",
                                       label_issues_rank_by=by)

  assert label_issues.rank_by(eval_config("auto")) == "mean_loss"
  assert label_issues.rank_by(eval_config("mean_loss")) == "mean_loss"
  with pytest.raises(ValueError,
                     match=r"--label_issues_rank_by=mean_weight: the run in "
                     f"{run} has no curriculum \\(every weight is 1\\); rank "
                     "it by mean_loss or auto"):
    label_issues.run(eval_config("mean_weight"))
  assert not (tmp_path / "run" / "label_issues.csv").exists()
