"""The fault probe's cases: bad input binds nothing, no traceback, one writer
per CSV, rotation after a resume, and the low-severity findings.

Each test reproduces one finding (numbered as in the probe) and asserts the
promised behaviour: the message's first line, the exit code, the files on
disk (their md5 where files must be kept).
"""

import csv
import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import helpers

from mentornet import training
from mentornet.config import EvalConfig
from mentornet.data import records
from mentornet.data import shards
from mentornet.evaluation import evaluate
from mentornet.evaluation import plot
from mentornet.models import students
from mentornet.training import build
from mentornet.training import reporting
from mentornet.runs import run_dir


def build_student(config):
  """The StudentNet of a TrainConfig or EvalConfig."""
  data = getattr(config, "data", config)
  return students.build_for(config.model, data.dataset_name)


pytestmark = pytest.mark.slow  # trainings and subprocesses

DEMO, VAL, PD = helpers.DEMO, helpers.VAL, helpers.PD
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def run_script(repo, name, *args):
  """(exit code, stderr's last line, stderr) of `code/<name> args`."""
  proc = subprocess.run(
      [sys.executable, str(repo / "code" / name), *args],
      cwd=repo,
      capture_output=True,
      text=True,
      check=False,
      env=dict(os.environ, **QUIET),
      timeout=300)
  lines = proc.stderr.strip().splitlines()
  return proc.returncode, lines[-1] if lines else "", proc.stderr


def md5s(directory):
  return {
      p.name: hashlib.md5(p.read_bytes()).hexdigest()
      for p in sorted(directory.iterdir())
      if p.is_file()
  }


def steps_on_disk(directory):
  return sorted(
      int(p.name[len("model.ckpt-"):-len(".index")])
      for p in directory.glob("model.ckpt-*.index"))


def small(tmp_path, **kwargs):
  return helpers.train_config(tmp_path, **{"max_number_of_steps": 2, **kwargs})


@pytest.fixture
def trained(tmp_path):
  """A 4-step CifarNet run with checkpoints at steps 2 and 4."""
  training.run(small(tmp_path, max_number_of_steps=4, save_checkpoint_steps=2))
  return tmp_path / "run"


def eval_args(run, *extra):
  return (f"--checkpoint_dir={run}", f"--data_dir={VAL}", "--batch_size=500",
          *extra)


# ------------------------------------------------ 1: bad input binds nothing


def test_bad_seed_then_good_seed_in_one_directory(repo, tmp_path):
  log_dir = tmp_path / "run"
  common = ("--studentnet=inception", f"--data_dir={DEMO}",
            f"--train_log_dir={log_dir}", "--batch_size=16",
            "--max_number_of_steps=2")
  code, line, err = run_script(repo, "cifar_train_baseline.py", *common,
                               "--seed=-1")
  assert code == 1 and "Traceback" not in err
  assert line.endswith("--seed=-1 must lie in [0, 2147483647]")
  assert not (log_dir / "train_config.json").exists()
  code, line, err = run_script(repo, "cifar_train_baseline.py", *common,
                               "--seed=0")
  assert code == 0, err[-2000:]
  assert steps_on_disk(log_dir) == [2]
  assert json.loads((log_dir / "train_config.json").read_text())["seed"] == 0


def _broken_mentornets(repo, tmp_path):
  """{case: MentorNet prefix}: truncated, NaN, a StudentNet run's."""
  out = {}
  truncated = tmp_path / "truncated"
  shutil.copytree(repo / PD, truncated)
  data = truncated / "mentornet-60000.data-00000-of-00001"
  with open(data, "r+b") as f:
    f.truncate(3000)
  out["truncated"] = (str(truncated), "is unreadable")
  from mentornet.models import mentor  # pylint: disable=g-import-not-at-top
  net = mentor.load_mentornet(str(repo / PD))
  net.fc1_bias.assign(tf.fill(net.fc1_bias.shape, float("nan")))
  out["nan"] = (tf.train.Checkpoint(mentornet=net).write(
      str(tmp_path / "nan" / "m")), "holds NaN or Inf")
  training.run(small(tmp_path / "student"))
  out["studentnet"] = (str(tmp_path / "student" / "run"),
                       "has no MentorNet variable")
  return out


def test_bad_mentornet_is_refused_before_the_run_is_recorded(repo, tmp_path):
  log_dir = tmp_path / "run"
  for case, (prefix, message) in _broken_mentornets(repo, tmp_path).items():
    with pytest.raises(ValueError) as raised:
      training.run(
          small(tmp_path, use_mentornet=True, trained_mentornet_dir=prefix))
    text = str(raised.value)
    assert text.startswith(f"--trained_mentornet_dir={prefix}"), case
    assert message in text and "\n" not in text, (case, text)
    assert not (log_dir / "train_config.json").exists(), case
  # The corrected command trains in the same directory.
  training.run(small(tmp_path, use_mentornet=True))
  assert steps_on_disk(log_dir) == [2]


def test_truncated_mentornet_gets_one_line_not_a_traceback(repo, tmp_path):
  prefix, _ = _broken_mentornets(repo, tmp_path)["truncated"]
  code, line, err = run_script(repo, "cifar_train_mentornet.py",
                               "--studentnet=inception", f"--data_dir={DEMO}",
                               f"--train_log_dir={tmp_path / 'run'}",
                               f"--trained_mentornet_dir={prefix}",
                               "--batch_size=16", "--max_number_of_steps=2")
  assert code == 1 and "Traceback" not in err
  assert f"--trained_mentornet_dir={prefix}:" in line
  assert "is unreadable" in line
  assert not (tmp_path / "run" / "train_config.json").exists()


def test_record_of_a_run_that_saved_nothing_binds_nothing(
    tmp_path, monkeypatch):
  log_dir = tmp_path / "run"

  # A run that failed before its first checkpoint: its record is removed.
  def fail(*args, **kwargs):
    raise RuntimeError("failed while building")

  with monkeypatch.context() as m:
    m.setattr(build, "build_training", fail)
    with pytest.raises(RuntimeError, match="failed while building"):
      training.run(small(tmp_path, seed=5))
  assert not (log_dir / "train_config.json").exists()
  # A record left with no checkpoint (a kill -9 before the first save) does
  # not bind either: another seed trains.
  (log_dir / "train_config.json").write_text(
      json.dumps({
          **small(tmp_path, seed=7).to_json_dict(), "data": {}
      }))
  training.run(small(tmp_path, seed=0))
  assert json.loads((log_dir / "train_config.json").read_text())["seed"] == 0


# ------------------------------------------ 2 and 7: unreadable checkpoints


def test_eval_job_passes_over_truncated_and_nan_checkpoints(repo, trained):
  # Step 4 truncated: passed over with one line, step 2 evaluated, exit 0.
  data = trained / "model.ckpt-4.data-00000-of-00001"
  original = data.read_bytes()
  data.write_bytes(original[:3000])
  out = trained.parent / "eval.csv"
  code, _, err = run_script(
      repo, "cifar_eval.py",
      *eval_args(trained, f"--output_csv_file={out}", "--eval_all"))
  assert code == 0 and "Traceback" not in err, err[-2000:]
  assert "passed over checkpoint" in err and "model.ckpt-4" in err
  assert [r["step"] for r in csv.DictReader(open(out))] == ["2"]
  # The same checkpoint alone: nothing evaluated, exit 1, one line.
  code, line, err = run_script(repo, "cifar_eval.py",
                               *eval_args(trained, "--eval_once"))
  assert code == 1 and "Traceback" not in err
  assert "nothing was evaluated" in line
  assert "model.ckpt-4" in line
  # NaN in step 4: passed over as well, and the CSV keeps one row.
  data.write_bytes(original)
  model = build_student(
      EvalConfig.from_flat(checkpoint_dir=str(trained),
                           data_dir=VAL,
                           studentnet="inception"))
  tf.train.Checkpoint(model=model).restore(str(
      trained / "model.ckpt-4")).expect_partial()
  model.trainable_variables[0].assign(
      tf.fill(model.trainable_variables[0].shape, float("nan")))
  nan_checkpoint = tf.train.Checkpoint(model=model)
  nan_checkpoint.save_counter  # pylint: disable=pointless-statement
  nan_checkpoint.write(str(trained / "model.ckpt-4"))
  before = md5s(trained)
  code, line, err = run_script(repo, "cifar_eval.py",
                               *eval_args(trained, "--eval_once"))
  assert code == 1 and "holds NaN or Inf" in line
  assert md5s(trained) == before  # the job moves and writes nothing there


# --------------------------------------------- 3: one eval job per CSV


def test_second_eval_job_on_one_csv_is_refused(repo, trained):
  out = trained.parent / "eval.csv"
  out.write_text("step,accuracy,loss\n2,0.1,2.3\n")
  before = hashlib.md5(out.read_bytes()).hexdigest()
  lock = run_dir.csv_lock(str(out)).acquire()
  try:
    code, line, err = run_script(
        repo, "cifar_eval.py",
        *eval_args(trained, f"--output_csv_file={out}", "--eval_all"))
  finally:
    lock.release()
  assert code == 1 and "Traceback" not in err
  assert f"{out} is in use by another evaluation job" in line
  assert line.endswith("one evaluation job per --output_csv_file")
  assert hashlib.md5(out.read_bytes()).hexdigest() == before
  # Once the first job is gone, the next one fills in step 4 only.
  code, _, err = run_script(
      repo, "cifar_eval.py",
      *eval_args(trained, f"--output_csv_file={out}", "--eval_all"))
  assert code == 0, err[-2000:]
  assert [r["step"] for r in csv.DictReader(open(out))] == ["2", "4"]


# --------------------------------------------- 4: moved data directory


def test_moved_data_directory_is_accepted_by_its_fingerprint(
    repo, tmp_path, caplog):
  shutil.copytree(repo / DEMO, tmp_path / "d2")
  training.run(small(tmp_path, data_dir=str(tmp_path / "d2")))
  shutil.move(tmp_path / "d2", tmp_path / "d3")
  caplog.set_level("INFO")
  training.run(
      small(tmp_path, data_dir=str(tmp_path / "d3"), max_number_of_steps=4))
  assert steps_on_disk(tmp_path / "run") == [2, 4]
  assert any(
      "the run's data moved from" in r.getMessage() and "d3" in r.getMessage()
      for r in caplog.records)
  # Other records at the new path are still refused.
  other = tmp_path / "d4"
  shutil.copytree(repo / DEMO, other)
  shard = sorted(other.glob("cifar10_train-*"))[0]
  shard.write_bytes(shard.read_bytes()[:-100])
  with pytest.raises(ValueError):
    training.run(small(tmp_path, data_dir=str(other), max_number_of_steps=6))


# --------------------------------------- 5 and 12: rotation after a resume


def test_a_resumed_run_keeps_what_an_uninterrupted_one_keeps(tmp_path):

  def cfg(directory, steps):
    return helpers.train_config(tmp_path,
                                train_log_dir=str(tmp_path / directory),
                                max_number_of_steps=steps,
                                save_checkpoint_steps=1)

  training.run(cfg("whole", 24))
  training.run(cfg("run", 8))  # stopped at step 8, then resumed
  training.run(cfg("run", 24))
  whole = steps_on_disk(tmp_path / "whole")
  assert whole == list(range(15, 25))  # the newest 10
  assert steps_on_disk(tmp_path / "run") == whole


def test_a_path_tensorflow_cannot_restore_from_is_refused(repo, tmp_path):
  """TensorFlow's checkpoint reader globs: in `r[1]` a run saves, but never
  restores (and its manager never rotates). Refused before any work."""
  log_dir = tmp_path / "r[1]"
  with pytest.raises(ValueError,
                     match=r"--train_log_dir=.*r\[1\] holds \[ "
                     r"\], which TensorFlow's checkpoint reader takes as a "
                     "glob pattern"):
    training.run(small(tmp_path, train_log_dir=str(log_dir)))
  assert not log_dir.exists()
  code, line, _ = run_script(repo, "cifar_eval.py",
                             *eval_args(tmp_path / "a*b", "--eval_once"))
  assert code == 1 and "--checkpoint_dir=" in line and "holds *" in line


# ------------------------------------------ 6: MentorMix with resnet101


def test_mentormix_trains_resnet101_under_its_scripts_rules(tmp_path):
  cfg = small(tmp_path,
              studentnet="resnet101",
              num_residual_units=1,
              resnet_widths=(16, 32, 64),
              use_mentornet=True,
              use_mentormix=True,
              example_dropout_rates="0.0,100")
  # As the MentorMix script: no decay with the second weighting (the
  # original's decay term there was empty), the entry's decay without it.
  ruled = build.with_rules(cfg)
  assert (ruled.optimization.regularization,
          ruled.optimization.schedule) == ("none", "exponential_unrounded")
  ruled = build.with_rules(cfg.replace(second_reweight=False))
  assert ruled.optimization.regularization == "added"
  metrics = training.run(cfg)
  assert np.isfinite(metrics["total_loss"])
  assert steps_on_disk(tmp_path / "run") == [2]


# --------------------------------- 8, 10 and 11: the run's record on disk


def test_eval_job_reads_the_checkpoints_record_when_the_file_is_gone(
    repo, trained):
  os.remove(trained / "train_config.json")
  code, _, err = run_script(repo, "cifar_eval.py",
                            *eval_args(trained, "--eval_once"))
  assert code == 0, err[-2000:]
  assert "--studentnet=inception" in err  # not the default resnet101


@pytest.mark.parametrize("content,message", [
    ("[1, 2]", "holds a list, not a run's configuration"),
    ('"hello"', "holds a str, not a run's configuration"),
    (None, "field seed is 'zero', not of type int"),
])
def test_garbled_record_gets_one_line(repo, trained, content, message):
  path = trained / "train_config.json"
  if content is None:
    record = json.loads(path.read_text())
    record["seed"] = "zero"
    content = json.dumps(record)
  path.write_text(content)
  with pytest.raises(ValueError, match=message):
    training.run(small(trained.parent, max_number_of_steps=6))
  code, line, err = run_script(repo, "cifar_train_baseline.py",
                               "--studentnet=inception", f"--data_dir={DEMO}",
                               f"--train_log_dir={trained}", "--batch_size=16",
                               "--max_number_of_steps=6")
  assert code == 1 and "Traceback" not in err and message in line
  assert path.read_text() == content  # kept as it was


def test_hand_edited_seed_does_not_change_the_run(tmp_path):
  training.run(small(tmp_path))
  path = tmp_path / "run" / "train_config.json"
  record = json.loads(path.read_text())
  path.write_text(json.dumps({**record, "seed": 1}))
  with pytest.raises(ValueError, match="seed: 0 there, 1 here"):
    training.run(small(tmp_path, seed=1, max_number_of_steps=4))
  training.run(small(tmp_path, seed=0, max_number_of_steps=4))
  assert steps_on_disk(tmp_path / "run") == [2, 4]
  assert json.loads(path.read_text())["seed"] == 0


# ------------------------------------------------ 9: the records' format


def _write(directory, pngs, labels, cleans):
  directory.mkdir(parents=True, exist_ok=True)
  path = directory / "cifar10_train-00000-of-00001"
  with tf.io.TFRecordWriter(str(path)) as w:
    for i, (png, label, clean) in enumerate(zip(pngs, labels, cleans)):
      w.write(records.make_example(png, label, clean, i))
  return str(path)


def test_records_hold_rgb_pngs_and_labels_within_the_classes(tmp_path):
  rng = np.random.default_rng(0)
  rgb = rng.integers(0, 256, [32, 32, 3]).astype(np.uint8)
  good = tf.io.encode_png(rgb).numpy()
  gray = tf.io.encode_png(rgb[..., :1]).numpy()
  jpeg = tf.io.encode_jpeg(rgb).numpy()
  assert shards.count_records(
      [_write(tmp_path / "ok", [good] * 3, [1, 2, 3], [1, -1, 3])],
      "cifar10") == 3
  cases = {
      "gray": ([good, gray], [1, 2], [1, 2],
               "record 1: image is a grayscale PNG; records hold 32x32 "
               "RGB PNGs"),
      "jpeg": ([good, good,
                jpeg], [1, 2, 3], [1, 2, 3], "record 2: image is not a PNG"),
      "clean": ([good, good], [1, 2], [1, 99],
                r"record 1: clean_label 99 is outside \[0, 10\)")
  }
  for name, (pngs, labels, cleans, message) in cases.items():
    path = _write(tmp_path / name, pngs, labels, cleans)
    with pytest.raises(ValueError, match=message):
      shards.count_records([path], "cifar10")


# ------------------------------------- 13: a MentorNet's own directory


def test_a_mentornet_directory_is_refused_as_train_log_dir(repo, tmp_path):
  target = tmp_path / "pd"
  shutil.copytree(repo / PD, target)
  before = md5s(target)
  with pytest.raises(ValueError,
                     match=r"holds a MentorNet \(mentornet-60000"
                     r"\); a StudentNet run needs a directory of its own"):
    training.run(small(tmp_path, train_log_dir=str(target)))
  assert md5s(target) == before and sorted(
      p.name for p in target.iterdir()) == sorted(before)


# ----------------------------------- 14: disk full while drawing the PNG


def test_disk_full_while_drawing_says_what_was_written(trained, monkeypatch,
                                                       caplog):
  out = trained.parent / "eval.csv"

  def disk_full(path, title=None):
    del path, title
    raise OSError(errno.ENOSPC, "No space left on device")

  monkeypatch.setattr(plot, "draw_csv", disk_full)
  caplog.set_level("WARNING")
  results = evaluate.run(
      EvalConfig.from_flat(checkpoint_dir=str(trained),
                           data_dir=VAL,
                           studentnet="inception",
                           batch_size=500,
                           output_csv_file=str(out),
                           eval_all=True))
  assert sorted(results) == [2, 4]
  assert [r["step"] for r in csv.DictReader(open(out))] == ["2", "4"]
  warnings = [
      r.getMessage()
      for r in caplog.records
      if "picture was not drawn" in r.getMessage()
  ]
  assert len(warnings) == 2 and f"is in {out}" in warnings[0]
  assert "No space left on device" in warnings[0]


# ------------------------------- 15: the closing line's quoted path


def test_closing_line_quotes_a_path_with_spaces(tmp_path):
  cfg = small(tmp_path, train_log_dir=str(tmp_path / "my run"))
  line = reporting.closing_line(cfg, 2, {
      "orig_loss": 2.0,
      "weighted_loss": 1.0
  })
  assert line.endswith(f"tensorboard --logdir '{tmp_path / 'my run'}'")
