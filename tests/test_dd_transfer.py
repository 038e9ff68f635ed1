"""benchmarks/dd_transfer.py: its statistics, learning rows and weights
against NumPy re-statements, and its one-line refusals.

The script defines absl flags (through reproduce.py), so it is imported in a
subprocess, as tests/test_reproduce.py does.
"""

import json

import numpy as np
import pytest

from mentor_reference import numpy_mentornet_weights
from tests import helpers

pytestmark = pytest.mark.slow  # a benchmark's tests: the full suite's

HELPER = """
import json, sys
sys.path[:0] = ['benchmarks', 'code']
import numpy as np
import dd_transfer
from absl import flags
task = json.loads(sys.stdin.read())
flags.FLAGS(['dd_transfer'] + task.get('argv', []))
if task['do'] == 'stats':
  print(json.dumps(dd_transfer.weight_stats(task['weights'], task['clean'])))
elif task['do'] == 'rows':
  print(dd_transfer.learning_rows(*(np.array(task[k]) for k in
      ('ids', 'noisy', 'clean', 'losses', 'mask')), 18), end='')
elif task['do'] == 'command':
  import reproduce
  protocol = reproduce.PROTOCOLS['cpu_5k_long']
  print(json.dumps([reproduce.train_command(protocol, task['method'], '0.8',
                                            reproduce.data_root_of(protocol),
                                            'L', 0),
                    dd_transfer.learned_command(protocol, task['method'],
                                                'M', 'L')]))
elif task['do'] == 'trained':
  for line in dd_transfer.trained_lines(task['trained']):
    print(line)
elif task['do'] == 'averages':
  import reproduce
  print(json.dumps(dd_transfer.run_averages(
      reproduce.PROTOCOLS[task['protocol']], task['step'])))
else:
  from mentornet.models import mentor
  net = mentor.load_mentornet(dd_transfer.scale_analysis.SHIPPED_DD)
  losses = np.array(task['losses'])
  clean = np.array(task['clean'], bool)
  scored = np.array(task['scored'], bool)
  averages = dd_transfer.percentile_averages(losses, task['percentiles'])
  averages['given'] = 3.0
  out, quantiles = dd_transfer.compare({'shipped': net}, losses, clean, scored,
                                       averages, 18)
  print(json.dumps({'out': out, 'quantiles': quantiles}))
"""


def run_helper(repo, task):
  del repo  # helpers.run_code runs in the repository
  return helpers.run_code(HELPER, json.dumps(task))


def numpy_auroc(scores, positives):
  """P(a positive scores above a negative), ties half: every pair counted."""
  pos, neg = scores[positives], scores[~positives]
  diff = pos[:, None] - neg[None, :]
  return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size


def test_weight_stats_against_numpy(repo):
  rng = np.random.default_rng(0)
  weights = np.round(rng.uniform(size=300), 2)  # ties included
  clean = rng.uniform(size=300) < 0.3
  got = json.loads(
      run_helper(repo, {
          "do": "stats",
          "weights": weights.tolist(),
          "clean": clean.tolist()
      }))
  assert abs(got["weight_auroc"] - numpy_auroc(weights, clean)) < 1e-12
  assert got["mean_weight_clean"] == weights[clean].mean()
  assert got["mean_weight_mislabelled"] == weights[~clean].mean()
  assert abs(got["clean_share"] - weights[clean].sum() / weights.sum()) < 1e-12
  assert got["accuracy_at_half"] == np.mean((weights > 0.5) == clean)


def test_learning_rows_are_a_loss_dump_of_the_masked_examples(repo, tmp_path):
  from mentornet.evaluation import loss_dump
  rng = np.random.default_rng(1)
  n = 40
  task = {
      "do": "rows",
      "ids": rng.permutation(1000)[:n].tolist(),
      "noisy": rng.integers(0, 10, n).tolist(),
      "clean": rng.integers(0, 10, n).tolist(),
      "losses": rng.uniform(0, 5, n).tolist(),
      "mask": (rng.uniform(size=n) < 0.25).tolist()
  }
  path = tmp_path / "dump.txt"
  path.write_text(run_helper(repo, task))
  rows = loss_dump.read_loss_dump(str(path))
  mask = np.array(task["mask"])
  np.testing.assert_array_equal(rows[:, 0], np.array(task["ids"])[mask])
  np.testing.assert_array_equal(rows[:, 1], 18)
  np.testing.assert_array_equal(rows[:, 2], np.array(task["noisy"])[mask])
  np.testing.assert_array_equal(rows[:, 3], np.array(task["clean"])[mask])
  np.testing.assert_allclose(rows[:, 4],
                             np.array(task["losses"])[mask],
                             atol=5e-6)


def test_compare_weighs_only_the_scored_examples_as_the_curriculum(repo):
  from mentornet.models import mentor
  rng = np.random.default_rng(2)
  n = 500
  losses = rng.gamma(4.0, 0.5, n)
  clean = rng.uniform(size=n) < 0.3
  scored = rng.uniform(size=n) < 0.8
  got = json.loads(
      run_helper(
          repo, {
              "do": "compare",
              "losses": losses.tolist(),
              "clean": clean.tolist(),
              "scored": scored.tolist(),
              "percentiles": [50, 70]
          }))
  values = {
      mentor.TF1_VARIABLE_NAMES[k]: v for k, v in mentor.checked_values(
          str(repo / "mentornet_models/models/nl_0.2_percentile_90/"
              "mentornet_dd")).items()
  }
  quantiles = np.percentile(losses[scored], [10, 25, 50, 75, 90])
  np.testing.assert_allclose(got["quantiles"], quantiles)
  assert list(got["out"]["shipped"]) == [
      "p50 of these losses", "p70 of these losses", "given"
  ]
  for label, average in (("p50 of these losses", np.percentile(losses, 50)),
                         ("p70 of these losses",
                          np.percentile(losses, 70)), ("given", 3.0)):
    # A percentile is taken over every image, scored or not.
    entry = got["out"]["shipped"][label]
    assert abs(entry["moving_average"] - average) < 1e-9

    def features(x, average=average):
      return np.stack([x, x - average,
                       np.zeros_like(x),
                       np.full_like(x, 18.0)], 1).astype(np.float32)

    want = numpy_mentornet_weights(values, features(losses[scored]))
    c = clean[scored]
    assert abs(entry["mean_weight_clean"] - want[c].mean()) < 1e-5
    assert abs(entry["mean_weight_mislabelled"] - want[~c].mean()) < 1e-5
    assert abs(entry["clean_share"] - want[c].sum() / want.sum()) < 1e-5
    np.testing.assert_allclose(entry["weight_at_loss_quantiles"],
                               numpy_mentornet_weights(values,
                                                       features(quantiles)),
                               atol=1e-5)
  # A higher moving average raises the weights.
  means = [e["mean_weight_clean"] for e in got["out"]["shipped"].values()]
  assert means[0] < means[1] < means[2]


def test_refuses_bad_percentiles_and_a_missing_run(tmp_path):
  proc = helpers.run_file("benchmarks/dd_transfer.py", "--percentiles=0,70",
                          f"--work_dir={tmp_path}")
  assert proc.returncode != 0
  assert "--percentiles=0,70: each must be an integer in 1..99" in proc.stderr
  assert not (tmp_path / "dd_transfer").exists()
  proc = helpers.run_file("benchmarks/dd_transfer.py", f"--work_dir={tmp_path}",
                          "--protocol=cpu_1k")
  assert proc.returncode != 0
  assert "no burn-in checkpoint of" in proc.stderr
  assert "run `reproduce.py --protocol=cpu_1k` first" in proc.stderr
  assert not (tmp_path / "dd_transfer").exists()


def test_run_averages_read_each_dd_runs_curriculum_at_the_step(repo, tmp_path):
  """From the run folder or the archive, only at that very step."""
  import tensorflow as tf
  folder = "v3_1000img_2000steps_185.8epd_200ckpt"
  places = {
      ("runs", "mentornet_dd_as_run", 400): 2.75,
      ("archive", "mentornet_dd", 400): 2.25,
      ("runs", "mentornet_dd", 600): 9.0,
  }
  for (where, method, step), value in places.items():
    state = tf.train.Checkpoint(curriculum=tf.train.Checkpoint(
        moving_average=tf.Variable(value)))
    state.write(
        str(tmp_path / where / folder / f"0.8_{method}" / f"model.ckpt-{step}"))
  got = json.loads(
      run_helper(
          repo, {
              "do": "averages",
              "argv": [f"--work_dir={tmp_path}"],
              "protocol": "cpu_1k",
              "step": 400
          }))
  assert got == {
      "mentornet_dd's, training": 2.25,
      "mentornet_dd_as_run's, training": 2.75
  }


def test_learned_command_swaps_only_the_mentornet(repo):
  grid, learned = json.loads(
      run_helper(repo, {
          "do": "command",
          "method": "mentornet_dd"
      }))
  swapped = [i for i, (a, b) in enumerate(zip(grid, learned)) if a != b]
  assert len(grid) == len(learned) and len(swapped) == 1
  assert grid[swapped[0]] == ("--trained_mentornet_dir=mentornet_models/"
                              "models/nl_0.2_percentile_90/mentornet_dd")
  assert learned[swapped[0]] == "--trained_mentornet_dir=M"
  assert "--loss_p_percentile=0.5" in learned  # the grid's DD at 0.8


def test_trained_lines_set_each_run_beside_the_baseline(repo):

  def run(final, best, share, loss):
    return {
        "final_accuracy": final,
        "best_accuracy": best,
        "best_step": 4500,
        "final_train_loss": loss,
        "command": f"python train {final}",
        "weights_at_end": {
            "weight_share_clean": share,
            "mean_weight_clean": 0.7,
            "mean_weight_noisy": 0.2
        } if share else {}
    }

  text = run_helper(
      repo, {
          "do": "trained",
          "trained": {
              "mentornet_dd": {
                  "DD learned at 0.8": run(0.3307, 0.34, 0.55, 2.9),
                  "shipped DD": run(0.2901, 0.3044, 0.41, 2.846),
                  "baseline": run(0.2307, 0.3114, None, 1.924)
              }
          }
      })
  rows = [l for l in text.splitlines() if l.startswith("| mentornet_dd")]
  assert rows == [
      "| mentornet_dd | DD learned at 0.8 | 0.3307 | 0.3400 (4500) | +10.0 | "
      "0.550 | 0.700 | 0.200 | 2.900 |",
      "| mentornet_dd | shipped DD | 0.2901 | 0.3044 (4500) | +5.9 | 0.410 | "
      "0.700 | 0.200 | 2.846 |",
      "| mentornet_dd | baseline | 0.2307 | 0.3114 (4500) |  |  |  |  | "
      "1.924 |"
  ]
  assert "python train 0.3307" in text.splitlines()
  assert json.loads(
      run_helper(repo, {
          "do": "trained",
          "trained": {}
      }) or "null") is None


def test_refuses_a_train_method_without_a_dd(tmp_path):
  proc = helpers.run_file("benchmarks/dd_transfer.py",
                          "--train_methods=baseline", f"--work_dir={tmp_path}")
  assert proc.returncode != 0
  assert ("--train_methods=baseline: allowed are mentornet_dd, "
          "mentornet_dd_as_run") in proc.stderr
  assert not (tmp_path / "dd_transfer").exists()
