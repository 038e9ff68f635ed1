"""Evaluation job beside training, deletions under it, and the loss dump."""

import csv
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import helpers
from mentornet.config import EvalConfig
from mentornet.data import inputs
from mentornet.evaluation import evaluate
from mentornet.evaluation import watch
from mentornet.evaluation import loss_dump
from mentornet.learning import generate
from mentornet import training
from mentornet.training import build

DEMO = "data/demo/cifar10/0.4"
VAL = "data/demo/cifar10/val"


def script(repo, name, *args):
  return [sys.executable, str(repo / "code" / name), *args]


def train(repo, log_dir, steps, **kwargs):
  cfg = training.TrainConfig.from_flat(train_log_dir=str(log_dir),
                                       data_dir=str(repo / DEMO),
                                       studentnet="inception",
                                       batch_size=16,
                                       max_number_of_steps=steps,
                                       save_interval_secs=0,
                                       log_every_n_steps=100,
                                       **kwargs)
  training.run(cfg)
  return cfg


@pytest.mark.slow
def test_trainer_and_eval_job_side_by_side(repo, tmp_path, scalars):
  run_dir, out_csv = tmp_path / "run", tmp_path / "eval.csv"
  evaluator = subprocess.Popen(script(repo, "cifar_eval.py",
                                      f"--checkpoint_dir={run_dir}",
                                      f"--data_dir={VAL}",
                                      "--eval_interval_secs=0",
                                      f"--output_csv_file={out_csv}",
                                      "--timeout_secs=300", "--batch_size=100"),
                               cwd=repo,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT,
                               text=True)
  trainer = helpers.run_script("cifar_train_baseline.py",
                               "--studentnet=inception", f"--data_dir={DEMO}",
                               f"--train_log_dir={run_dir}", "--batch_size=32",
                               "--max_number_of_steps=150",
                               "--save_interval_secs=2")
  assert trainer.returncode == 0, trainer.stderr[-2000:]
  output, _ = evaluator.communicate(timeout=300)
  assert evaluator.returncode == 0, output[-3000:]
  rows = list(csv.DictReader(open(out_csv)))
  steps = [int(r["step"]) for r in rows]
  assert steps == sorted(set(steps)) and steps[-1] == 150
  assert all(0 <= float(r["accuracy"]) <= 1 for r in rows)
  assert "step 150: test accuracy" in output
  tags = scalars(run_dir / "eval")
  assert [s for s, _ in tags["eval/accuracy"]] == steps
  assert [round(v, 6) for _, v in tags["eval/accuracy"]
         ] == [float(r["accuracy"]) for r in rows]
  assert len(tags["eval/loss"]) == len(rows)


@pytest.mark.slow
def test_deleted_checkpoints_do_not_crash_the_eval_job(repo, tmp_path):
  cfg = train(repo, tmp_path / "run", 2)
  out_csv = tmp_path / "eval.csv"
  evaluator = subprocess.Popen(script(
      repo, "cifar_eval.py", f"--checkpoint_dir={cfg.run.train_log_dir}",
      f"--data_dir={VAL}", "--eval_interval_secs=0",
      f"--output_csv_file={out_csv}", "--timeout_secs=8",
      "--max_number_of_steps=1000", "--batch_size=200"),
                               cwd=repo,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT,
                               text=True)
  deadline = time.time() + 120
  # Every checkpoint on disk (steps 1 and 2) is evaluated first.
  while not (out_csv.exists() and len(out_csv.read_text().splitlines()) >= 3):
    assert time.time() < deadline and evaluator.poll() is None
    time.sleep(0.2)
  # The trainer's rotation: the state file names a checkpoint whose files are
  # already gone, and older checkpoints vanish.
  for name in os.listdir(cfg.run.train_log_dir):
    if name.startswith("model.ckpt-"):
      os.remove(os.path.join(cfg.run.train_log_dir, name))
  tf.compat.v1.train.update_checkpoint_state(cfg.run.train_log_dir,
                                             "model.ckpt-7")
  output, _ = evaluator.communicate(timeout=120)
  assert evaluator.returncode == 0, output[-3000:]
  assert "no new checkpoint for 8 s; stopping" in output
  assert [r["step"] for r in csv.DictReader(open(out_csv))] == ["1", "2"]


@pytest.mark.slow
def test_checkpoint_vanishing_before_restore_is_skipped(repo, tmp_path,
                                                        monkeypatch):
  cfg = train(repo, tmp_path / "run", 2)
  good = tf.train.latest_checkpoint(cfg.run.train_log_dir)
  gone = os.path.join(cfg.run.train_log_dir, "model.ckpt-7")
  monkeypatch.setattr(
      watch, "pending", lambda config, adopted, done: [(gone, config),
                                                       (good, config)])
  config = EvalConfig.from_flat(checkpoint_dir=cfg.run.train_log_dir,
                                data_dir=str(repo / VAL),
                                batch_size=500)
  assert list(evaluate.run(config)) == [2]


@pytest.mark.slow
def test_eval_accuracy_matches_direct_computation(repo, tmp_path):
  cfg = train(repo, tmp_path / "run", 3)
  config = EvalConfig.from_flat(checkpoint_dir=cfg.run.train_log_dir,
                                data_dir=str(repo / VAL),
                                eval_once=True,
                                batch_size=64)
  results = evaluate.run(config)
  accuracy, loss = results[3]
  model = build.build_model(cfg)
  tf.train.Checkpoint(model=model).restore(
      tf.train.latest_checkpoint(cfg.run.train_log_dir)).expect_partial()
  batch = next(iter(inputs.eval_dataset(str(repo / VAL), "cifar10", 1000)))
  logits = model(batch["image"], training=False).numpy()
  labels = batch["label"].numpy()
  assert accuracy == pytest.approx(np.mean(logits.argmax(1) == labels))
  log_p = logits - np.log(
      np.exp(logits - logits.max(1, keepdims=True)).sum(
          1, keepdims=True)) - logits.max(1, keepdims=True)
  assert loss == pytest.approx(-np.mean(log_p[np.arange(1000), labels]),
                               rel=1e-4)


@pytest.mark.slow
def test_loss_dump_is_well_formed_and_round_trips(repo, tmp_path):
  cfg = train(repo, tmp_path / "run", 20)
  dump = tmp_path / "nl_0.4.txt"
  proc = helpers.run_script("cifar_eval.py", "--mode=dump",
                            f"--checkpoint_dir={cfg.run.train_log_dir}",
                            f"--data_dir={DEMO}", f"--dump_file={dump}",
                            "--dump_fraction=0.1", "--batch_size=100")
  assert proc.returncode == 0, proc.stderr[-3000:]
  lines = dump.read_text().splitlines()
  assert len(lines) == 500
  ids = []
  records = {
      int(b_id): (int(n), int(c))
      for batch in inputs.eval_dataset(str(repo /
                                           DEMO), "cifar10", 1000, "train")
      for b_id, n, c in zip(batch["id"], batch["label"], batch["clean_label"])
  }
  for line in lines:
    fields = line.split(" ")
    assert len(fields) == 5
    example_id, epoch, noisy, clean = map(int, fields[:4])
    assert epoch == 99  # step 20 of 20
    assert records[example_id] == (noisy, clean)
    assert len(fields[4].split(".")[1]) == 5 and float(fields[4]) >= 0
    ids.append(example_id)
  assert len(set(ids)) == 500
  dirs = generate.generate_data_driven(str(dump), str(tmp_path / "dd"))
  assert len(dirs) == 6
  train_rows, test_rows = generate.load_split(dirs[-1])
  assert len(train_rows) + len(test_rows) == 500
  # an existing dump is never overwritten
  again = helpers.run_script("cifar_eval.py", "--mode=dump",
                             f"--checkpoint_dir={cfg.run.train_log_dir}",
                             f"--data_dir={DEMO}", f"--dump_file={dump}")
  assert again.returncode != 0
  assert again.stderr.strip().splitlines()[-1].endswith(
      "exists; remove it or choose another name")


def test_dump_subset_is_seeded():
  a = loss_dump.select_subset(5000, 0.1, seed=0)
  b = loss_dump.select_subset(5000, 0.1, seed=0)
  c = loss_dump.select_subset(5000, 0.1, seed=1)
  assert a.sum() == 500 and np.array_equal(a, b) and not np.array_equal(a, c)


def _timed_lines(proc):
  """[(time.time(), line)] of a process's output, read as it comes."""
  import threading  # pylint: disable=g-import-not-at-top
  lines = []

  def read():
    for line in proc.stdout:
      lines.append((time.time(), line.rstrip("\n")))

  threading.Thread(target=read, daemon=True).start()
  return lines


def _start_eval_job(repo, *args):
  """(start time, the running cifar_eval.py on the demo test split, its
  timed output lines)."""
  start = time.time()
  job = subprocess.Popen(script(repo, "cifar_eval.py", f"--data_dir={VAL}",
                                *args),
                         cwd=repo,
                         stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT,
                         text=True)
  return start, job, _timed_lines(job)


def _wait_for(lines, needle, seconds):
  deadline = time.time() + seconds
  while time.time() < deadline:
    found = [t for t, line in lines if needle in line]
    if found:
      return found[0]
    time.sleep(0.05)
  raise AssertionError(f"no line with {needle!r} in {seconds} s: {lines}")


@pytest.mark.slow
def test_eval_job_says_what_it_waits_for_and_evaluates_within_seconds(
    repo, tmp_path):
  """Started before its trainer, with --eval_interval_secs at its default
  (600 s): a waiting line at once, each checkpoint evaluated within seconds
  of its save (the first round at once, the final step's at once)."""
  run, out_csv = tmp_path / "run", tmp_path / "eval.csv"
  start, job, lines = _start_eval_job(repo, f"--checkpoint_dir={run}",
                                      f"--output_csv_file={out_csv}",
                                      "--batch_size=500")
  said = _wait_for(lines, "does not exist yet: waiting up to 600 s", 30)
  assert said - start < 5, lines
  trainer = helpers.run_script("cifar_train_baseline.py",
                               "--studentnet=inception", f"--data_dir={DEMO}",
                               f"--train_log_dir={run}", "--batch_size=16",
                               "--max_number_of_steps=4",
                               "--save_checkpoint_steps=2",
                               "--save_summaries_secs=100000")
  assert trainer.returncode == 0, trainer.stderr[-2000:]
  assert job.wait(timeout=120) == 0, lines
  for step in (2, 4):
    evaluated = _wait_for(lines, f"step {step}: accuracy", 1)
    saved = os.path.getmtime(run / f"model.ckpt-{step}.index")
    assert evaluated - saved < 15, (step, evaluated - saved, lines)
  rows = list(csv.reader(out_csv.open()))
  assert [r[0] for r in rows] == ["step", "2", "4"]


def test_a_directory_that_does_not_exist_is_said_at_once(repo, tmp_path):
  """README: the job waits --trainer_wait_secs for a trainer to create the
  directory, then exits 1 saying nothing was evaluated."""
  start, job, lines = _start_eval_job(
      repo, f"--checkpoint_dir={tmp_path / 'nowhere'}", "--trainer_wait_secs=1",
      "--master=ignored")
  said = _wait_for(lines, "does not exist yet: waiting up to 1 s", 30)
  assert said - start < 5, lines
  assert job.wait(timeout=120) == 1
  assert "nothing was evaluated" in lines[-1][1], lines
  # The flags are read once: the note on --master comes once.
  assert sum("--master is a TF1 setting" in l for _, l in lines) == 1, lines


class _Config:
  eval_interval_secs, trainer_wait_secs, max_number_of_steps = 600, 600, 6


def test_rounds_are_spaced_by_the_interval_but_the_final_step_is_not(caplog):
  """The original's --eval_interval_secs: at least that long between two
  evaluations; here the first and the final step's are not held back, nor
  those left when the trainer has gone."""
  w = watch._Watch(_Config())  # pylint: disable=protected-access
  assert not w.due([], 0.0, True)
  assert w.due(["r/model.ckpt-2"], 1.0, True)  # the first round: at once
  with caplog.at_level("INFO"):
    assert not w.due(["r/model.ckpt-4"], 5.0, True)
  assert "evaluated in 596 s (--eval_interval_secs)" in caplog.text
  assert w.due(["r/model.ckpt-4"], 601.0, True)
  assert not w.due(["r/model.ckpt-5"], 602.0, True)
  assert w.due(["r/model.ckpt-5"], 603.0, False)  # no trainer left
  assert w.due(["r/model.ckpt-6"], 604.0, True)  # the final step
  assert w.last_new == 604.0
