"""A resumed run is the same run: it finds its checkpoints from the files on
disk, never writes over one it did not resume from, continues bit for bit,
refuses other data or flags, and every failure is one line."""

import errno
import glob
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import helpers

from mentornet.config import EvalConfig
from mentornet.data import records
from mentornet.evaluation import evaluate
from mentornet.learning import generate
from mentornet import training
from mentornet.runs import checkpoints
from mentornet.runs import run_dir

pytestmark = pytest.mark.slow  # subprocesses, kills and resumes

DEMO = "data/demo/cifar10/0.4"
VAL = "data/demo/cifar10/val"
PD = "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd"
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def config(repo, tmp_path, **kwargs):
  del repo
  return helpers.train_config(
      tmp_path, **{
          "max_number_of_steps": 30,
          "save_checkpoint_steps": 10,
          "save_summaries_secs": 100000,
          **kwargs
      })


def digests(directory):
  """{relative path: sha256} of every checkpoint file below `directory`."""
  out = {}
  for path in glob.glob(os.path.join(directory, "**", "model.ckpt-*"),
                        recursive=True):
    with open(path, "rb") as f:
      out[os.path.relpath(path,
                          directory)] = hashlib.sha256(f.read()).hexdigest()
  return out


def steps_on_disk(directory):
  return [
      f.step
      for f in checkpoints.on_disk(str(directory), "model.ckpt")
      if f.complete
  ]


def tensors(prefix):
  """Every tensor of a checkpoint but the save counter (a count of saves)."""
  reader = tf.train.load_checkpoint(prefix)
  return {
      name: reader.get_tensor(name)
      for name in reader.get_variable_to_shape_map()
      if not name.startswith("save_counter")
  }


def script(repo, name, *args):
  return [sys.executable, str(repo / "code" / name), *args]


def one_line_error(proc, *needles):
  assert proc.returncode == 1, proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
  last = proc.stderr.strip().splitlines()[-1]
  assert ": error: " in last, last
  for needle in needles:
    assert needle in last, last
  return last


# ------------------------------------------------ checkpoints from the disk


@pytest.fixture
def three_checkpoints(repo, tmp_path):
  """A baseline run with model.ckpt-10, -20 and -30; extended later to 40."""
  training.run(config(repo, tmp_path))
  assert steps_on_disk(tmp_path / "run") == [30, 20, 10]
  return tmp_path / "run"


@pytest.mark.parametrize("damage", ["deleted", "garbage", "names_a_gone_one"])
def test_lost_state_file_resumes_from_the_newest_on_disk(
    repo, tmp_path, three_checkpoints, damage, caplog):
  run = three_checkpoints
  state = run / "checkpoint"
  if damage == "deleted":
    state.unlink()
  elif damage == "garbage":
    state.write_bytes(b"\x00\xffnot a checkpoint state\n")
  else:  # the state file names model.ckpt-40, which is not on disk
    tf.compat.v1.train.update_checkpoint_state(str(run), "model.ckpt-40")
  before = digests(run)
  with caplog.at_level(logging.INFO):
    training.run(config(repo, tmp_path, max_number_of_steps=40))
  assert f"resumed from {run}/model.ckpt-30" in caplog.text
  assert "from step 30 to 40" in caplog.text
  after = digests(run)
  assert {k: after[k] for k in before} == before  # nothing written over
  assert steps_on_disk(run) == [40, 30, 20, 10]
  assert tf.train.latest_checkpoint(str(run)).endswith("model.ckpt-40")


def test_missing_index_falls_back_and_never_writes_over_it(
    repo, tmp_path, three_checkpoints, caplog):
  run = three_checkpoints
  (run / "model.ckpt-30.index").unlink()
  before = digests(run)
  with caplog.at_level(logging.INFO):
    training.run(config(repo, tmp_path, max_number_of_steps=40))
  assert (f"passed over {run}/model.ckpt-30 (its index or a data shard is "
          f"missing); resumed from {run}/model.ckpt-20") in caplog.text
  after = digests(run)
  moved = "unreadable/model.ckpt-30.data-00000-of-00001"
  assert after[moved] == before["model.ckpt-30.data-00000-of-00001"]
  for name in ("model.ckpt-10.index", "model.ckpt-20.index",
               "model.ckpt-20.data-00000-of-00001"):
    assert after[name] == before[name]
  assert steps_on_disk(run) == [40, 30, 20, 10]  # 30 trained again


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_corrupt_newest_checkpoint_falls_back_naming_both(
    repo, tmp_path, three_checkpoints, damage, caplog):
  run = three_checkpoints
  data = run / "model.ckpt-30.data-00000-of-00001"
  content = bytearray(data.read_bytes())
  if damage == "truncated":
    data.write_bytes(bytes(content[:len(content) // 2]))
  else:
    for i in range(100, len(content), 997):
      content[i] ^= 0xFF
    data.write_bytes(bytes(content))
  before = digests(run)
  with caplog.at_level(logging.INFO):
    training.run(config(repo, tmp_path, max_number_of_steps=40))
  line = next(
      r.getMessage() for r in caplog.records if "passed over" in r.getMessage())
  assert f"passed over {run}/model.ckpt-30 (" in line
  assert f"resumed from {run}/model.ckpt-20" in line
  assert "\n" not in line
  after = digests(run)
  assert after["unreadable/model.ckpt-30.data-00000-of-00001"] == before[
      "model.ckpt-30.data-00000-of-00001"]
  assert after["unreadable/model.ckpt-30.index"] == before[
      "model.ckpt-30.index"]
  assert steps_on_disk(run) == [40, 30, 20, 10]


def test_no_readable_checkpoint_is_refused_and_nothing_changes(
    repo, tmp_path, three_checkpoints):
  run = three_checkpoints
  for path in run.glob("model.ckpt-*.data-*"):
    path.write_bytes(path.read_bytes()[:100])
  before = digests(run)
  files = sorted(os.listdir(run))
  proc = helpers.run_script("cifar_train_baseline.py", "--studentnet=inception",
                            f"--data_dir={DEMO}", f"--train_log_dir={run}",
                            "--batch_size=16", "--max_number_of_steps=40",
                            "--save_checkpoint_steps=10",
                            "--save_summaries_secs=100000")
  one_line_error(proc, "holds checkpoints but none restores", "model.ckpt-30",
                 "nothing was changed")
  assert digests(run) == before and sorted(os.listdir(run)) == files


def test_eval_job_finds_checkpoints_without_the_state_file(
    repo, tmp_path, three_checkpoints):
  run = three_checkpoints
  (run / "checkpoint").unlink()
  results = evaluate.run(
      EvalConfig.from_flat(checkpoint_dir=str(run),
                           data_dir=str(repo / VAL),
                           batch_size=250,
                           eval_all=True,
                           output_csv_file=str(tmp_path / "eval.csv")))
  assert sorted(results) == [10, 20, 30]


# ------------------------------------------------------- the very same run


def _train_args(log_dir, steps):
  return [
      "--studentnet=inception", f"--data_dir={DEMO}",
      f"--train_log_dir={log_dir}", f"--trained_mentornet_dir={PD}",
      "--batch_size=32", f"--max_number_of_steps={steps}",
      "--save_checkpoint_steps=40", "--save_interval_secs=100000",
      "--save_summaries_secs=100000", "--log_every_n_steps=1",
      "--loss_p_percentile=0.75", "--example_dropout_rates=0.5,30,0.1,70",
      "--seed=3"
  ]


def _start(repo, log_dir, steps):
  return subprocess.Popen(script(repo, "cifar_train_mentornet.py",
                                 *_train_args(log_dir, steps)),
                          cwd=repo,
                          env=dict(os.environ, **QUIET),
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True)


def _stop_at(proc, sig, step):
  """Sends `sig` once the trainer has printed step `step`'s line."""
  lines = []
  for line in proc.stdout:
    lines.append(line)
    if f"step {step}/" in line:
      proc.send_signal(sig)
      break
  lines.append(proc.communicate(timeout=180)[0])
  return "".join(lines)


def test_killed_and_resumed_run_ends_bit_identical(repo, tmp_path):
  """SIGKILL after steps 57 and 131 (each loses the steps since its last
  checkpoint), SIGTERM after step 170 (saves the step reached, in the middle
  of a pass over the data): the final checkpoint equals an uninterrupted run's, tensor for
  tensor: weights, optimizer, moving average, dropout generator state."""
  steps = 240
  whole = tmp_path / "whole"
  proc = _start(repo, whole, steps)
  output = proc.communicate(timeout=600)[0]
  assert proc.returncode == 0, output[-3000:]

  pieces = tmp_path / "pieces"
  for sig, at, code in ((signal.SIGKILL, 57, -9), (signal.SIGKILL, 131, -9),
                        (signal.SIGTERM, 170, 143)):
    proc = _start(repo, pieces, steps)
    output = _stop_at(proc, sig, at)
    assert proc.returncode == code, output[-3000:]
  stopped = int(
      re.search(r"stopped by SIGTERM at step (\d+) of 240", output).group(1))
  assert 170 <= stopped < 180 and stopped % 40  # mid-interval, mid-pass
  proc = _start(repo, pieces, steps)
  output = proc.communicate(timeout=600)[0]
  assert proc.returncode == 0, output[-3000:]
  assert f"from step {stopped} to 240" in output

  want = tensors(str(whole / f"model.ckpt-{steps}"))
  got = tensors(str(pieces / f"model.ckpt-{steps}"))
  assert sorted(got) == sorted(want)
  assert any("seed_generators" in name for name in want)
  assert any("moving_average" in name for name in want)
  # The label evidence too (the per-example sums of `--mode=label_issues`).
  seen = "label_evidence/seen/.ATTRIBUTES/VARIABLE_VALUE"
  assert want[seen].sum() > 0
  for name, value in want.items():  # the run's configuration included
    np.testing.assert_array_equal(got[name], value, err_msg=name)


def _mentornet_data(tmp_path):
  data = tmp_path / "data"
  generate.generate_predefined("vstar_self_paced", str(data), sample_size=8000)
  return data


def test_killed_mentornet_training_resumes_bit_identical(repo, tmp_path):
  data = _mentornet_data(tmp_path)
  args = [
      f"--data_path={data}", "--max_step_train=4000", "--mini_batch_size=32",
      "--seed=1"
  ]
  whole = helpers.run_script("training_mentornet/train.py",
                             f"--train_dir={tmp_path / 'whole'}", *args)
  assert whole.returncode == 0, whole.stderr[-2000:]
  pieces = tmp_path / "pieces"
  proc = subprocess.Popen(script(repo, "training_mentornet/train.py",
                                 f"--train_dir={pieces}", *args),
                          cwd=repo,
                          env=dict(os.environ, **QUIET),
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  deadline = time.time() + 300
  while not glob.glob(str(pieces / "mentornet-1000.index")):
    assert proc.poll() is None and time.time() < deadline
    time.sleep(0.02)
  proc.kill()
  proc.wait()
  assert not (pieces / "mentornet-4000.index").exists()
  rerun = helpers.run_script("training_mentornet/train.py",
                             f"--train_dir={pieces}", *args)
  assert rerun.returncode == 0, rerun.stderr[-2000:]
  assert "resumed from" in rerun.stderr
  want = tensors(str(tmp_path / "whole" / "mentornet-4000"))
  got = tensors(str(pieces / "mentornet-4000"))
  assert sorted(got) == sorted(want)
  for name, value in want.items():
    np.testing.assert_array_equal(got[name], value, err_msg=name)


def test_mentornet_trainer_refuses_a_changed_resume_and_a_second_trainer(
    repo, tmp_path):
  data = _mentornet_data(tmp_path)
  train_dir = tmp_path / "mn"
  args = [
      f"--train_dir={train_dir}", f"--data_path={data}", "--max_step_train=400"
  ]
  assert helpers.run_script("training_mentornet/train.py",
                            *args).returncode == 0
  for changed, needle in (("--learning_rate=0.05", "learning_rate: 0.1 there"),
                          ("--seed=4", "seed: 0 there, 4 here"),
                          ("--mini_batch_size=64", "mini_batch_size: 32")):
    one_line_error(
        helpers.run_script("training_mentornet/train.py", *args, changed),
        needle, "holds a MentorNet trained")
  other = tmp_path / "other"
  generate.generate_predefined("vstar_self_paced",
                               str(other),
                               sample_size=8000,
                               seed=5)
  one_line_error(
      helpers.run_script("training_mentornet/train.py",
                         f"--train_dir={train_dir}", f"--data_path={other}",
                         "--max_step_train=400"), "training data")
  # A longer run of the same settings resumes (the schedule does not depend
  # on max_step_train).
  longer = helpers.run_script("training_mentornet/train.py", *args[:2],
                              "--max_step_train=600")
  assert longer.returncode == 0 and "resumed from" in longer.stderr
  # Two trainers at once on one directory: the second is refused.
  first = subprocess.Popen(script(repo, "training_mentornet/train.py",
                                  *args[:2], "--max_step_train=400000"),
                           cwd=repo,
                           env=dict(os.environ, **QUIET),
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 120
    while not run_dir.trainer_is_running(str(train_dir)):
      assert first.poll() is None and time.time() < deadline
      time.sleep(0.05)
    one_line_error(
        helpers.run_script("training_mentornet/train.py", *args[:2],
                           "--max_step_train=400000"),
        "in use by another trainer", f"pid {first.pid}")
    assert first.poll() is None
  finally:
    first.kill()
    first.wait()


# ------------------------------------------------------ the data under a run


def _small_records(directory, n, seed):
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, [n, 32, 32, 3]).astype(np.uint8)
  serialized = [
      records.make_example(
          tf.io.encode_png(images[i]).numpy(), i % 10, i % 10, i)
      for i in range(n)
  ]
  os.makedirs(directory, exist_ok=True)
  records.write_records(serialized, str(directory), "cifar10", "train")


def test_resume_on_other_records_is_refused_naming_the_change(repo, tmp_path):
  data = tmp_path / "data"
  _small_records(data, 300, seed=0)
  cfg = config(repo, tmp_path, data_dir=str(data), max_number_of_steps=4)
  training.run(cfg)
  shutil.rmtree(data)
  _small_records(data, 200, seed=1)  # other size, other images
  before = digests(tmp_path / "run")
  with pytest.raises(ValueError,
                     match=r"holds other training data than the "
                     r"run in .* \(300 records there, 200 here\)"):
    training.run(
        config(repo, tmp_path, data_dir=str(data), max_number_of_steps=8))
  shutil.rmtree(data)
  _small_records(data, 300, seed=2)  # same size, other images
  with pytest.raises(ValueError, match="other contents"):
    training.run(
        config(repo, tmp_path, data_dir=str(data), max_number_of_steps=8))
  assert digests(tmp_path / "run") == before


# -------------------------------------------- flags when train_config is gone


def test_deleted_run_config_cannot_adopt_other_flags(repo, tmp_path):
  training.run(
      config(repo,
             tmp_path,
             max_number_of_steps=4,
             save_checkpoint_steps=0,
             use_mentornet=True,
             trained_mentornet_dir=str(repo / PD)))
  (tmp_path / "run" / "train_config.json").unlink()
  with pytest.raises(
      ValueError,
      match=r"learning_rate: 0.1 there, 0.05 here"
      r"\), as .*model.ckpt-4 \(its train_config.json is gone\)"):
    training.run(
        config(repo,
               tmp_path,
               max_number_of_steps=4,
               save_checkpoint_steps=0,
               use_mentornet=True,
               trained_mentornet_dir=str(repo / PD),
               learning_rate=0.05))
  assert not (tmp_path / "run" / "train_config.json").exists()
  # The same flags, the MentorNet spelled another way: the same run.
  training.run(
      config(repo,
             tmp_path,
             max_number_of_steps=4,
             save_checkpoint_steps=0,
             use_mentornet=True,
             trained_mentornet_dir="./" + os.path.relpath(repo / PD)))
  saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
  assert saved["learning_rate"] == 0.1 and saved["data"]["records"] == 5000


# ----------------------------------------------------- the eval job's exits


def test_eval_job_without_anything_to_evaluate_fails(repo, tmp_path):
  missing = tmp_path / "missing"
  for mode in ("--eval_once", "--eval_all"):
    one_line_error(
        helpers.run_script("cifar_eval.py", f"--checkpoint_dir={missing}",
                           f"--data_dir={VAL}", "--studentnet=inception", mode),
        "does not exist")
  for directory in (missing, tmp_path):  # never created; empty, no trainer
    one_line_error(
        helpers.run_script("cifar_eval.py", f"--checkpoint_dir={directory}",
                           f"--data_dir={VAL}", "--studentnet=inception",
                           "--trainer_wait_secs=1", "--eval_interval_secs=0"),
        "no trainer came to", "nothing was evaluated")


def test_csv_row_cut_short_is_repaired_not_glued(repo, tmp_path,
                                                 three_checkpoints):
  csv = tmp_path / "eval.csv"
  csv.write_text("step,accuracy,loss\n10,0.250000,2.000000\n20,0.3")
  evaluate.run(
      EvalConfig.from_flat(checkpoint_dir=str(three_checkpoints),
                           data_dir=str(repo / VAL),
                           studentnet="inception",
                           batch_size=250,
                           eval_all=True,
                           output_csv_file=str(csv)))
  rows = csv.read_text().splitlines()
  assert rows[:2] == ["step,accuracy,loss", "10,0.250000,2.000000"]
  assert [r.split(",")[0] for r in rows[2:]] == ["20", "30"]
  assert all(len(r.split(",")) == 3 for r in rows)


# --------------------------------------------- one line for each of these


def test_read_only_train_log_dir_is_one_line(repo, tmp_path, monkeypatch):
  real_open = os.open

  def read_only(path, *args, **kwargs):
    if str(path).endswith(run_dir.LOCK_FILE):
      raise OSError(errno.EROFS, "Read-only file system", str(path))
    return real_open(path, *args, **kwargs)

  monkeypatch.setattr(run_dir.os, "open", read_only)
  with pytest.raises(training.TrainingError,
                     match=r"cannot use --train_log_dir=.*Read-only file "
                     r"system") as raised:
    training.run(config(repo, tmp_path, max_number_of_steps=2))
  assert "\n" not in str(raised.value)


def test_eval_dir_that_cannot_be_created_is_one_line(repo, tmp_path,
                                                     three_checkpoints):
  blocker = tmp_path / "a_file"
  blocker.write_text("not a directory")
  proc = helpers.run_script("cifar_eval.py",
                            f"--checkpoint_dir={three_checkpoints}",
                            f"--data_dir={VAL}", "--studentnet=inception",
                            f"--eval_dir={blocker}/eval", "--eval_all")
  one_line_error(proc, "could not write the summaries of step 10")


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated"])
def test_empty_or_truncated_mentornet_data_is_one_line(repo, tmp_path, content):
  data = _mentornet_data(tmp_path)
  (data / "tr.npz").write_bytes(content)
  one_line_error(
      helpers.run_script("training_mentornet/train.py",
                         f"--train_dir={tmp_path / 'mn'}",
                         f"--data_path={data}"),
      "tr.npz is not a readable .npz file")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_loss_dump_with_nan_or_inf_is_refused_naming_the_line(
    repo, tmp_path, value):
  dump = tmp_path / "dump.txt"
  dump.write_text(f"1 18 3 3 0.50000\n2 18 4 1 {value}\n3 18 5 5 0.2\n")
  proc = helpers.run_script("training_mentornet/data_generator.py",
                            "--vstar_fn=data_driven",
                            f"--input_csv_filename={dump}",
                            f"--outdir={tmp_path / 'out'}")
  one_line_error(proc, f"{dump}:2:", "NaN or Inf")
  assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("widths", ["16,16,16", "32,64,64", "64,32,128"])
def test_resnet_widths_that_cannot_build_are_one_line(repo, tmp_path, widths):
  proc = helpers.run_script("cifar_train_baseline.py", f"--data_dir={DEMO}",
                            f"--train_log_dir={tmp_path / 'run'}",
                            f"--resnet_widths={widths}",
                            "--num_residual_units=1")
  one_line_error(proc, f"--resnet_widths={widths}", "increasing")
  assert not (tmp_path / "run").exists()


def test_checkpoint_of_another_network_is_one_line(repo, tmp_path):
  """A run of an older version keeps no record in its checkpoints: with its
  train_config.json gone, the flags' network is tried, and refused."""
  run = tmp_path / "run"
  shutil.copytree(repo / "tests" / "data" / "run_43fd139", run)
  (run / "train_config.json").unlink()  # nothing to adopt
  proc = helpers.run_script("cifar_eval.py", f"--checkpoint_dir={run}",
                            f"--data_dir={VAL}", "--studentnet=inception",
                            "--eval_once")
  one_line_error(proc, "is not a StudentNet checkpoint of this configuration")


def test_a_run_of_the_previous_version_resumes_and_evaluates(repo, tmp_path):
  """tests/data/run_43fd139: 4 baseline steps of a small resnet101 written by
  the version before the renovation (commit 43fd139), with its record in the
  old format (no data fingerprint) and no copy of it in the checkpoint."""
  run = tmp_path / "run"
  shutil.copytree(repo / "tests" / "data" / "run_43fd139", run)
  proc = helpers.run_script("cifar_train_baseline.py", "--studentnet=resnet101",
                            "--num_residual_units=1",
                            "--resnet_widths=16,32,64", f"--data_dir={DEMO}",
                            f"--train_log_dir={run}", "--batch_size=16",
                            "--max_number_of_steps=6",
                            "--save_summaries_secs=100000")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert f"resumed from {run}/model.ckpt-4" in proc.stderr
  assert "from step 4 to 6" in proc.stderr
  saved = json.loads((run / "train_config.json").read_text())
  assert saved["data"]["records"] == 5000  # the record gained its fingerprint
  proc = helpers.run_script("cifar_eval.py", f"--checkpoint_dir={run}",
                            f"--data_dir={VAL}", "--eval_all",
                            "--batch_size=500",
                            f"--output_csv_file={tmp_path / 'eval.csv'}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  rows = (tmp_path / "eval.csv").read_text().splitlines()
  assert [r.split(",")[0] for r in rows] == ["step", "4", "6"]


def test_a_mentornet_run_of_the_flat_config_version_resumes_bit_for_bit(
    repo, tmp_path):
  """tests/data/run_78a9a26: 8 MentorNet (PD) steps of a small resnet101
  written by the last version with flat configs (commit 78a9a26), checkpoints
  at steps 4 and 8. Resumed at step 4 by today's nested configs, it reaches
  the very same step-8 variables, and its record is read as it was written
  (and rewritten with the settings added since, at their defaults)."""
  stored = repo / "tests" / "data" / "run_78a9a26"
  run = tmp_path / "run"
  shutil.copytree(stored, run)
  for path in glob.glob(str(run / "model.ckpt-8*")):
    os.remove(path)
  tf.compat.v1.train.update_checkpoint_state(str(run), "model.ckpt-4")
  record = json.loads((stored / "train_config.json").read_text())
  proc = helpers.run_script(
      "cifar_train_mentornet.py", "--studentnet=resnet101",
      "--num_residual_units=1", "--resnet_widths=16,32,64",
      f"--data_dir={DEMO}", f"--train_log_dir={run}", "--batch_size=16",
      "--max_number_of_steps=8", "--save_checkpoint_steps=4",
      "--save_summaries_secs=100000", f"--trained_mentornet_dir={PD}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert f"resumed from {run}/model.ckpt-4" in proc.stderr
  # Rewritten with the settings added since, at their defaults.
  assert json.loads(
      (run / "train_config.json").read_text()) == dict(record,
                                                       precision="float32")
  # The label evidence (added since) sums from the step resumed at.
  assert "holds no label evidence" in proc.stderr
  ours = tf.train.load_checkpoint(str(run / "model.ckpt-8"))
  assert ours.get_tensor(
      "label_evidence/start_step/.ATTRIBUTES/VARIABLE_VALUE") == 4
  theirs = tf.train.load_checkpoint(str(stored / "model.ckpt-8"))
  names = [n for n, _ in tf.train.list_variables(str(stored / "model.ckpt-8"))]
  assert len(
      names
  ) > 50 and "curriculum/moving_average/.ATTRIBUTES/VARIABLE_VALUE" in names
  for name in names:
    if name in ("_CHECKPOINTABLE_OBJECT_GRAPH",
                "save_counter/.ATTRIBUTES/VARIABLE_VALUE"):
      continue  # the resumed run saved once, the stored one twice
    if name == "run_config/.ATTRIBUTES/VARIABLE_VALUE":  # as the file's
      assert json.loads(ours.get_tensor(name)) == dict(json.loads(
          theirs.get_tensor(name)),
                                                       precision="float32")
      continue
    np.testing.assert_array_equal(ours.get_tensor(name),
                                  theirs.get_tensor(name),
                                  err_msg=name)
