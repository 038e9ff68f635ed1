"""What a newcomer meets first: results they can find and see, examples that
leave the checkout clean, no alarming warnings of our own making."""

import os
import re
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


@pytest.mark.slow
def test_quickstart_compares_the_baseline_and_pd(repo, tmp_path):
  """The quick start, shortened (20 steps, a checkpoint every 4): both runs
  with 5 checkpoints each, each evaluated, one picture, and a last line that
  names both final accuracies and the picture."""
  out = tmp_path / "qs"
  proc = subprocess.run(["bash", "commands/quickstart.sh",
                         str(out)],
                        cwd=repo,
                        env={
                            **os.environ, "STEPS": "20",
                            "EVERY": "4"
                        },
                        capture_output=True,
                        text=True,
                        check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  for run in ("baseline", "mentornet_pd"):
    steps, accuracy, _ = plot.read_rows(str(out / run / "eval.csv"))
    assert steps == [4, 8, 12, 16, 20], run
  last = proc.stdout.strip().splitlines()[-1]
  assert f"in {out}/compared.png" in last
  assert re.search(
      r"baseline 0\.\d{4} \(step 20\), mentornet_pd 0\.\d{4} "
      r"\(step 20\)", last), last
  assert (out / "compared.png").read_bytes().startswith(b"\x89PNG")
  readme = (repo / "README.md").read_text()
  quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
  assert "runs/quickstart/compared.png" in quick


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


def test_importing_the_library_prints_nothing(repo, tmp_path):
  """`import mentornet` and a TensorFlow op in a user's own script: nothing
  on stderr (TensorFlow's start-up lines, the failed cuInit), unless
  MENTORNET_VERBOSE=1."""
  code = ("import mentornet\nfrom mentornet import training\n"
          "import tensorflow as tf\nprint(int(tf.constant(1) + 1))\n")
  env = {
      k: v
      for k, v in os.environ.items()
      if k not in ("MENTORNET_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")
  }
  env["PYTHONPATH"] = str(repo / "code")
  quiet = subprocess.run([sys.executable, "-c", code],
                         cwd=tmp_path,
                         env=env,
                         capture_output=True,
                         text=True,
                         check=False)
  assert quiet.returncode == 0 and quiet.stdout == "2\n", quiet.stderr
  assert quiet.stderr == ""
  loud = subprocess.run([sys.executable, "-c", code],
                        cwd=tmp_path,
                        env={
                            **env, "MENTORNET_VERBOSE": "1"
                        },
                        capture_output=True,
                        text=True,
                        check=False)
  assert "oneDNN" in loud.stderr or "cuda" in loud.stderr.lower()


@pytest.mark.slow
def test_readme_mentormix_demo_trains_and_is_evaluated(repo, tmp_path):
  """README's MentorMix command for the demo data, as written but shortened
  (20 steps, a checkpoint every 10) and in a temporary directory."""
  readme = (repo / "README.md").read_text()
  block = readme.split("On the demo data of a fresh clone", 1)[1]
  block = block.split("```bash\n", 1)[1].split("```", 1)[0]
  run = tmp_path / "mentormix_demo"
  block = block.replace("runs/mentormix_demo", str(run)).replace(
      "--max_number_of_steps=500 --save_checkpoint_steps=100",
      "--max_number_of_steps=20 --save_checkpoint_steps=10")
  assert "--max_number_of_steps=20" in block
  proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block],
                        cwd=repo,
                        capture_output=True,
                        text=True,
                        check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  steps, accuracy, _ = plot.read_rows(str(run / "eval.csv"))
  assert steps == [10, 20] and all(0 <= a <= 1 for a in accuracy)
  record = (run / "train_config.json").read_text()
  assert '"use_mentormix": true' in record


@pytest.mark.parametrize("script", [
    "train_studentnet_inception.sh", "train_studentnet_resnet.sh",
    "training_mentormix_command.sh"
])
def test_grid_print_says_the_data_must_be_made_first(repo, script):
  proc = subprocess.run(["bash", f"commands/{script}", "--print"],
                        cwd=repo,
                        capture_output=True,
                        text=True,
                        check=True)
  assert "bash commands/prepare_data.sh" in proc.stderr
  assert all(l.startswith("python code/") for l in proc.stdout.splitlines())


def test_missing_data_names_the_way_to_make_it(repo, tmp_path):
  from mentornet.data import shards  # pylint: disable=g-import-not-at-top
  with pytest.raises(FileNotFoundError, match="commands/prepare_data.sh"):
    shards.record_files(str(tmp_path / "data/cifar10/0.4"), "cifar10", "train")
  with pytest.raises(FileNotFoundError,
                     match="it holds cifar10 records: give "
                     "--dataset_name=cifar10"):
    shards.record_files(str(repo / helpers.DEMO), "cifar100", "train")


def test_readme_names_every_metric_fit_reports(repo):
  images = keras.Input((8, 8, 3))
  student = keras.Model(
      images,
      keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(images)))
  model = keras_model.MentorNetModel(student, str(repo / helpers.PD))
  readme = (repo / "README.md").read_text()
  bullets = readme.split("- **Metrics** in the progress bar", 1)[1]
  bullets = bullets.split("- **Regularisation**", 1)[0]
  reported = set(model._trackers)  # pylint: disable=protected-access
  assert {"percentile_loss", "moving_average"} <= reported
  for name in reported:
    assert f"`{name}`" in bullets, name
