"""`mentornet_plot` (code/plot_runs.py): runs compared in one picture."""

import shutil
import subprocess
import sys

import pytest

import helpers
from mentornet import training
from mentornet.config import EvalConfig
from mentornet.evaluation import compare
from mentornet.evaluation import evaluate


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
  """Two short demo runs (baseline and PD, 4 steps, checkpoints at 2 and 4),
  each evaluated into its eval.csv."""
  root = tmp_path_factory.mktemp("runs")
  for name, kwargs in (("baseline", {}), ("pd", {"use_mentornet": True})):
    cfg = helpers.train_config(root,
                               train_log_dir=str(root / name),
                               max_number_of_steps=4,
                               save_checkpoint_steps=2,
                               **kwargs)
    training.run(cfg)
    evaluate.run(
        EvalConfig.from_flat(checkpoint_dir=str(root / name),
                             data_dir=str(helpers.REPO / helpers.VAL),
                             eval_all=True,
                             batch_size=500,
                             output_csv_file=str(root / name / "eval.csv")))
  return root


def plot(repo, *args):
  proc = subprocess.run([sys.executable, "code/plot_runs.py", *map(str, args)],
                        cwd=repo,
                        capture_output=True,
                        text=True,
                        check=False)
  return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.slow
def test_two_runs_drawn_in_one_png(repo, two_runs, tmp_path):
  out = tmp_path / "compared.png"
  code, stdout, stderr = plot(repo, two_runs / "baseline", two_runs / "pd",
                              f"--output={out}")
  assert code == 0, stderr[-2000:]
  assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert f"drew 2 run(s) in {out}" in stdout
  assert "baseline" in stdout and "pd" in stdout  # their final accuracies
  runs = [compare.read_run(str(two_runs / n)) for n in ("baseline", "pd")]
  assert [r.label for r in runs] == ["baseline", "pd"]
  assert [s for s, _ in runs[0].accuracy] == [2, 4]
  for tag, _ in compare.SUMMARY_PANELS:
    assert runs[1].series[tag], tag
  # The baseline weighs every example 1: its clean share is the data's.
  shares = [v for _, v in runs[0].series["noise/weight_share_clean"]]
  assert all(0.4 < v < 0.9 for v in shares)


@pytest.mark.slow
def test_a_run_lacking_a_csv_or_summaries_gets_one_line(repo, two_runs,
                                                        tmp_path):
  no_csv, no_summaries = tmp_path / "no_csv", tmp_path / "no_summaries"
  shutil.copytree(two_runs / "pd", no_csv)
  (no_csv / "eval.csv").unlink()
  no_summaries.mkdir()
  shutil.copy(two_runs / "baseline" / "eval.csv", no_summaries / "eval.csv")
  out = tmp_path / "x.png"
  code, _, stderr = plot(repo, no_csv, no_summaries, f"--output={out}")
  assert code == 0 and out.exists(), stderr[-2000:]
  assert "Traceback" not in stderr
  warnings = [l for l in stderr.splitlines() if "drawn with what it has" in l]
  assert len(warnings) == 2
  assert "no eval.csv" in warnings[0] and "--eval_all" in warnings[0]
  assert "no TensorBoard summaries" in warnings[1]


@pytest.mark.slow
def test_bad_arguments_are_one_line(repo, tmp_path):
  empty = tmp_path / "empty"
  empty.mkdir()
  for args, needle in (
      ((), "name one or more run directories"),
      ((tmp_path / "nowhere",), "is not a run's directory"),
      ((empty,), "nothing to draw"),
      ((empty, "--output=x.jpg"), "must name a .png file"),
  ):
    code, _, stderr = plot(
        repo, *args, f"--output={tmp_path / 'o.png'}"
        if not any("--output" in str(a) for a in args) else "--title=t")
    lines = stderr.strip().splitlines()
    assert code == 1 and "Traceback" not in stderr, stderr[-2000:]
    assert needle in lines[-1], (args, lines[-1])


def test_reading_summaries_leaves_the_loggers_as_they_were(tmp_path):
  """Reading a run's summaries quiets TensorBoard's reader for a while and
  puts every logger's level back, NOTSET too (a level left set would hide
  later INFO lines, e.g. from pytest's caplog)."""
  import logging  # pylint: disable=g-import-not-at-top
  names = ("", "absl", "tensorboard")
  before = {n: logging.getLogger(n).level for n in names}
  assert compare.read_scalars(str(tmp_path)) == {}
  assert {n: logging.getLogger(n).level for n in names} == before
