"""What a newcomer meets first: results they can find and see, examples that
leave the checkout clean, no alarming warnings of our own making."""

import shutil
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers
from mentornet import training
from mentornet.config import EvalConfig
from mentornet.evaluation import evaluate
from mentornet.evaluation import plot
from mentornet.training import keras_model


def git_status(repo):
  return subprocess.run(["git", "status", "--porcelain"],
                        cwd=repo,
                        capture_output=True,
                        text=True,
                        check=True).stdout


def test_rerun_eval_once_keeps_one_row_per_step_and_draws_it(repo, tmp_path):
  cfg = helpers.train_config(tmp_path, max_number_of_steps=2)
  training.run(cfg)
  csv_path = tmp_path / "run" / "eval.csv"
  config = EvalConfig.from_flat(checkpoint_dir=cfg.run.train_log_dir,
                                data_dir=str(repo / helpers.VAL),
                                batch_size=500,
                                studentnet="inception",
                                eval_once=True,
                                output_csv_file=str(csv_path))
  first = evaluate.run(config)
  again = evaluate.run(config)  # the quick start run twice
  assert first == again and list(first) == [2]
  assert csv_path.read_text().splitlines()[1:] == [
      f"2,{first[2][0]:.6f},{first[2][1]:.6f}"
  ]
  png = tmp_path / "run" / "eval.png"
  assert png.read_bytes().startswith(b"\x89PNG")
  steps, accuracy, loss = plot.read_rows(str(csv_path))
  assert steps == [2] and accuracy == [pytest.approx(first[2][0], abs=1e-6)]
  assert loss == [pytest.approx(first[2][1], abs=1e-6)]


def test_quickstart_ends_saying_where_the_results_are(repo):
  text = (repo / "commands" / "quickstart.sh").read_text()
  assert '--output_csv_file="${RUN_DIR}/eval.csv"' in text
  assert "tensorboard --logdir ${RUN_DIR}" in text
  assert "${RUN_DIR}/eval.png" in text
  readme = (repo / "README.md").read_text()
  quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
  assert "runs/quickstart/eval.png" in quick
  assert "tensorboard --logdir runs/quickstart" in quick


@pytest.mark.slow
def test_visualizer_keeps_out_of_the_shipped_curricula(repo, tmp_path):
  before = git_status(repo)
  shipped = repo / helpers.PD
  proc = subprocess.run([
      sys.executable, "code/training_mentornet/visualizer.py",
      f"--model_dir={shipped}", "--epoch_ranges=0"
  ],
                        cwd=repo,
                        capture_output=True,
                        text=True,
                        check=False)
  assert proc.returncode == 1
  last = proc.stderr.strip().splitlines()[-1]
  assert "is inside the shipped mentornet_models/; give --output_dir" in last
  # The --help example as written: it writes under runs/ (git-ignored).
  target = repo / "runs" / "pictures" / "mentornet_pd"
  existed = target.exists()
  proc = subprocess.run([
      sys.executable, "code/training_mentornet/visualizer.py",
      f"--model_dir={helpers.PD}", "--output_dir=runs/pictures/mentornet_pd",
      "--epoch_ranges=0,99"
  ],
                        cwd=repo,
                        capture_output=True,
                        text=True,
                        check=False)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert (target / "plot.gif").exists()
  assert git_status(repo) == before  # no tracked file changed
  if not existed:
    shutil.rmtree(target)


def test_help_examples_write_only_under_runs(repo):
  """Every script's usage writes into runs/, mentornet_data/ or data/
  (all git-ignored), never into a tracked folder."""
  for path in list((repo / "code").glob("*.py")) + list(
      (repo / "code" / "training_mentornet").glob("*.py")):
    doc = path.read_text().split('"""')[1]
    for flag in ("--train_dir=", "--train_log_dir=", "--output_dir=",
                 "--outdir=", "--dump_file=", "--output_csv_file="):
      for line in doc.splitlines():
        if flag in line:
          value = line.split(flag, 1)[1].split()[0]
          assert value.startswith(
              ("runs/", "mentornet_data/", "data")), (path.name, flag, value)


def test_fit_on_a_dataset_raises_no_shuffle_warning(repo):
  keras.utils.set_random_seed(0)
  student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
  model = keras_model.MentorNetModel(student)
  model.compile(optimizer="sgd",
                loss=keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True, reduction=None))
  data = tf.data.Dataset.from_tensor_slices(
      (np.zeros([8, 4], np.float32), np.zeros([8], np.int64))).batch(4)
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model.fit(data, epochs=1, verbose=0)
  assert not [w for w in caught if "shuffle" in str(w.message)]
