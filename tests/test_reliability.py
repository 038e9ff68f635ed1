"""Several workers, preemption, state that cannot be corrupted, the eval job's
failures, and bad input: each fault gets a saved step or one clear line."""

import csv
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import helpers

from mentornet.config import PrepareConfig
from mentornet.data import cifar_data
from mentornet.data import records
from mentornet.data import shards
from mentornet.learning import generate
from mentornet import training
from mentornet.training import loop
from mentornet.runs import run_dir

pytestmark = pytest.mark.slow  # subprocesses, kills and resumes

DEMO = "data/demo/cifar10/0.4"
VAL = "data/demo/cifar10/val"
PD = "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd"
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def script(repo, name, *args):
  return [sys.executable, str(repo / "code" / name), *args]


def train_args(log_dir, steps, *extra):
  return [
      "--studentnet=inception", f"--data_dir={DEMO}",
      f"--train_log_dir={log_dir}", f"--trained_mentornet_dir={PD}",
      "--batch_size=16", f"--max_number_of_steps={steps}",
      "--log_every_n_steps=10", "--example_dropout_rates=0.0,100", *extra
  ]


def latest_step(log_dir):
  latest = tf.train.latest_checkpoint(str(log_dir))
  return int(latest.rsplit("-", 1)[1]) if latest else 0


def wait_for(predicate, timeout=180, proc=()):
  deadline = time.time() + timeout
  while not predicate():
    assert time.time() < deadline, "timed out"
    for p in proc:
      assert p.poll() is None, p.communicate()[0][-3000:]
    time.sleep(0.2)


def free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("localhost", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def start_workers(repo, log_dir, steps, *extra):
  """Two workers on localhost; their output goes to files in log_dir/../."""
  cluster = {"worker": [f"localhost:{p}" for p in free_ports(2)]}
  procs = []
  for index in range(2):
    env = dict(os.environ,
               **QUIET,
               TF_CONFIG=json.dumps({
                   "cluster": cluster,
                   "task": {
                       "type": "worker",
                       "index": index
                   }
               }))
    out = open(log_dir.parent / f"worker{index}.log", "a")
    procs.append(
        subprocess.Popen(script(
            repo, "cifar_train_mentornet.py",
            *train_args(log_dir, steps,
                        "--distribution_strategy=multi_worker_mirrored",
                        *extra)),
                         cwd=repo,
                         env=env,
                         stdout=out,
                         stderr=subprocess.STDOUT,
                         text=True))
  return procs


def finish(procs, log_dir, timeout=300):
  codes = [p.wait(timeout=timeout) for p in procs]
  outputs = [
      (log_dir.parent / f"worker{i}.log").read_text() for i in range(len(procs))
  ]
  for i in range(len(procs)):
    os.remove(log_dir.parent / f"worker{i}.log")
  return codes, outputs


# ---------------------------------------------------------------- workers


def test_two_workers_train_resume_after_kill_and_finish(repo, tmp_path):
  log_dir = tmp_path / "run"
  procs = start_workers(repo, log_dir, 60, "--save_checkpoint_steps=10")
  wait_for(lambda: latest_step(log_dir) >= 20, proc=procs)
  for p in procs:
    p.kill()
  finish(procs, log_dir)
  killed_at = latest_step(log_dir)
  assert 20 <= killed_at < 60
  procs = start_workers(repo, log_dir, 60, "--save_checkpoint_steps=10")
  codes, outputs = finish(procs, log_dir)
  assert codes == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
  for output in outputs:
    assert f"resumed from {log_dir}/model.ckpt-{killed_at}" in output
    assert f"from step {killed_at} to 60" in output
  assert latest_step(log_dir) == 60
  names = os.listdir(log_dir)
  assert "train_config.json" in names
  assert not [n for n in names if n.startswith(".worker")]  # throw-away gone
  # Only the chief writes summaries: one event file per start.
  assert len([n for n in names if n.startswith("events.out")]) == 2


def test_sigterm_on_one_worker_saves_on_both_and_resumes(repo, tmp_path):
  log_dir = tmp_path / "run"
  extra = ("--save_interval_secs=100000",)
  procs = start_workers(repo, log_dir, 300, *extra)
  chief_log = tmp_path / "worker0.log"
  wait_for(lambda: "step 20/300" in chief_log.read_text(), proc=procs)
  procs[1].send_signal(signal.SIGTERM)  # the non-chief worker is preempted
  codes, outputs = finish(procs, log_dir)
  assert codes == [143, 143], outputs[0][-2000:] + outputs[1][-2000:]
  step = latest_step(log_dir)
  assert 20 <= step < 300
  assert f"stopped by SIGTERM at step {step} of 300" in outputs[1]
  assert f"stopped by another worker at step {step} of 300" in outputs[0]
  assert "Traceback" not in outputs[0] + outputs[1]
  procs = start_workers(repo, log_dir, 300, *extra)
  codes, outputs = finish(procs, log_dir)
  assert codes == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
  assert f"from step {step} to 300" in outputs[0]
  assert latest_step(log_dir) == 300


# -------------------------------------------------------- signals, one machine


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143),
                                      (signal.SIGINT, 130)])
def test_signal_saves_the_step_reached_and_rerun_continues(
    repo, tmp_path, sig, code):
  log_dir = tmp_path / "run"
  args = train_args(log_dir, 400, "--save_interval_secs=100000",
                    "--log_every_n_steps=1")
  proc = subprocess.Popen(script(repo, "cifar_train_mentornet.py", *args),
                          cwd=repo,
                          env=dict(os.environ, **QUIET),
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True)
  seen = []
  for line in proc.stdout:
    seen.append(line)
    if "step 30/400" in line:
      break
  proc.send_signal(sig)
  output = "".join(seen) + proc.communicate(timeout=120)[0]
  assert proc.returncode == code, output[-3000:]
  assert "Traceback" not in output
  step = latest_step(log_dir)
  assert step >= 30
  assert f"stopped by {signal.Signals(sig).name} at step {step} of 400" in output
  rerun = helpers.run_script("cifar_train_mentornet.py", *args)
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert f"from step {step} to 400" in rerun.stderr
  assert latest_step(log_dir) == 400


# ----------------------------------------------------------- run directory


def config(repo, tmp_path, **kwargs):
  del repo
  return helpers.train_config(tmp_path, **{"max_number_of_steps": 2, **kwargs})


def test_failed_config_write_leaves_a_resumable_run(repo, tmp_path,
                                                    monkeypatch):
  cfg = config(repo, tmp_path)
  training.run(cfg)
  path = tmp_path / "run" / "train_config.json"
  before = path.read_text()

  def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")

  with monkeypatch.context() as m:
    m.setattr(run_dir.json, "dump", disk_full)
    with pytest.raises(training.TrainingError,
                       match="could not write train_config.json in .*No space "
                       "left on device.*nothing was changed"):
      training.run(config(repo, tmp_path, max_number_of_steps=4))
  assert path.read_text() == before  # the old file, whole
  assert not [n for n in os.listdir(tmp_path / "run") if n.startswith(".tmp")]
  training.run(config(repo, tmp_path, max_number_of_steps=4))
  assert latest_step(tmp_path / "run") == 4
  mtime = path.stat().st_mtime_ns
  training.run(config(repo, tmp_path, max_number_of_steps=4))
  assert path.stat().st_mtime_ns == mtime  # unchanged: not rewritten


def test_moved_run_resumes_under_any_spelling(repo, tmp_path, monkeypatch):
  training.run(
      config(repo,
             tmp_path,
             use_mentornet=True,
             trained_mentornet_dir=str(repo / PD),
             max_number_of_steps=4,
             save_checkpoint_steps=2))
  prefix = tf.train.latest_checkpoint(str(tmp_path / "run"))
  for name in ("model.ckpt-4.index", "model.ckpt-4.data-00000-of-00001"):
    os.remove(tmp_path / "run" / name)  # as if killed after step 2
  tf.compat.v1.train.update_checkpoint_state(str(tmp_path / "run"),
                                             "model.ckpt-2")
  del prefix
  shutil.move(tmp_path / "run", tmp_path / "moved")
  monkeypatch.chdir(tmp_path)
  metrics = training.run(
      training.TrainConfig.from_flat(train_log_dir="moved/",
                                     data_dir=str(repo / DEMO),
                                     studentnet="inception",
                                     batch_size=16,
                                     max_number_of_steps=4,
                                     use_mentornet=True,
                                     trained_mentornet_dir=str(repo / PD),
                                     save_summaries_secs=0,
                                     save_checkpoint_steps=2))
  assert metrics and latest_step(tmp_path / "moved") == 4


def test_second_trainer_is_refused_while_the_first_holds_the_dir(
    repo, tmp_path):
  log_dir = tmp_path / "run"
  log_dir.mkdir()
  lock = run_dir.DirectoryLock(str(log_dir)).acquire()
  try:
    assert run_dir.trainer_is_running(str(log_dir))
    proc = helpers.run_script("cifar_train_baseline.py",
                              *train_args(log_dir, 2)[:3], "--batch_size=16",
                              "--max_number_of_steps=2")
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "is in use by another trainer" in last and f"pid {os.getpid()}" in last
    assert not tf.train.latest_checkpoint(str(log_dir))
  finally:
    lock.release()
  assert not run_dir.trainer_is_running(str(log_dir))


def test_orphaned_temporary_saves_are_removed(repo, tmp_path):
  training.run(config(repo, tmp_path))
  orphan = tmp_path / "run" / "model.ckpt-3_temp"
  orphan.mkdir()
  (orphan / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x" * 10)
  training.run(config(repo, tmp_path, max_number_of_steps=3))
  assert not orphan.exists() and latest_step(tmp_path / "run") == 3


def test_injected_nan_never_reaches_a_checkpoint(repo, tmp_path, monkeypatch):
  real_build_step = training.build_step

  def poisoned(config_, strategy, model, optimizer, curriculum, batch, *extra):
    step = real_build_step(config_, strategy, model, optimizer, curriculum,
                           batch, *extra)

    def wrapped(data, requests=None):
      metrics = step(data, requests)
      if int(optimizer.iterations) == 3:  # the update of step 3 went wrong,
        model.trainable_variables[0].assign(  # its loss was still finite
            tf.fill(model.trainable_variables[0].shape, float("nan")))
      return metrics

    return wrapped

  monkeypatch.setattr(loop, "build_step", poisoned)
  with pytest.raises(training.TrainingError,
                     match=r"not finite after step 3.*model.ckpt-2$"):
    training.run(
        config(repo, tmp_path, max_number_of_steps=6, save_checkpoint_steps=1))
  log_dir = str(tmp_path / "run")
  assert latest_step(log_dir) == 2
  for prefix in tf.train.get_checkpoint_state(
      log_dir).all_model_checkpoint_paths:
    reader = tf.train.load_checkpoint(prefix)
    for name, _ in tf.train.list_variables(prefix):
      value = reader.get_tensor(name)
      if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        assert np.all(np.isfinite(value)), (prefix, name)


# ------------------------------------------------------------- eval job


def test_restarted_eval_job_fills_the_csv_once_in_order(repo, tmp_path):
  training.run(
      config(repo, tmp_path, max_number_of_steps=6, save_checkpoint_steps=1))
  out = tmp_path / "eval.csv"
  # A first eval job was killed after steps 1 and 2 (and 4, evaluated out of
  # order by hand).
  out.write_text("step,accuracy,loss\n1,0.1,2.3\n2,0.1,2.3\n4,0.1,2.3\n")
  proc = helpers.run_script("cifar_eval.py",
                            f"--checkpoint_dir={tmp_path / 'run'}",
                            f"--data_dir={VAL}", f"--output_csv_file={out}",
                            "--eval_interval_secs=0", "--batch_size=500")
  assert proc.returncode == 0, proc.stderr[-3000:]
  steps = [int(r["step"]) for r in csv.DictReader(open(out))]
  assert steps == [1, 2, 4, 3, 5, 6]
  # Run again: nothing new, nothing written twice.
  proc = helpers.run_script("cifar_eval.py",
                            f"--checkpoint_dir={tmp_path / 'run'}",
                            f"--data_dir={VAL}", f"--output_csv_file={out}",
                            "--eval_all", "--batch_size=500")
  assert proc.returncode == 0
  assert [int(r["step"]) for r in csv.DictReader(open(out))] == steps


def test_eval_job_stops_when_its_trainer_is_gone(repo, tmp_path):
  training.run(config(repo, tmp_path, max_number_of_steps=2))
  # The run says 50 steps but its trainer has died at step 2.
  path = tmp_path / "run" / "train_config.json"
  saved = json.loads(path.read_text())
  saved["max_number_of_steps"] = 50
  path.write_text(json.dumps(saved))
  proc = helpers.run_script("cifar_eval.py",
                            f"--checkpoint_dir={tmp_path / 'run'}",
                            f"--data_dir={VAL}", "--eval_interval_secs=1",
                            "--trainer_wait_secs=3", "--batch_size=500")
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1].endswith(
      "its last checkpoint is step 2 of 50: the run stopped before its end")


def test_eval_job_fails_on_truncated_test_shard(repo, tmp_path):
  training.run(config(repo, tmp_path))
  val = tmp_path / "val"
  val.mkdir()
  shard = next((repo / VAL).iterdir())
  data = shard.read_bytes()
  (val / shard.name).write_bytes(data[:len(data) // 2])
  for extra in (["--eval_once"], ["--timeout_secs=5"]):
    proc = helpers.run_script("cifar_eval.py",
                              f"--checkpoint_dir={tmp_path / 'run'}",
                              f"--data_dir={val}", *extra)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "corrupt TFRecord file" in last and shard.name in last


def test_eval_job_fails_on_a_mentornet_checkpoint(repo, tmp_path):
  proc = helpers.run_script("cifar_eval.py", f"--checkpoint_dir={repo / PD}",
                            f"--data_dir={VAL}", "--studentnet=inception",
                            "--eval_once", "--batch_size=500")
  assert proc.returncode == 1
  last = proc.stderr.strip().splitlines()[-1]
  assert "no StudentNet checkpoint (model.ckpt-<step>) in" in last
  assert not (repo / PD / "eval").exists()  # nothing written beside it


def test_grid_pair_ends_when_its_trainer_dies(repo, tmp_path):
  start = time.time()
  proc = subprocess.run([
      "bash", "-c", "source commands/grid.sh; run_pair \"$1\" bash -c "
      "'sleep 1; exit 3' -- sleep 600", "bash",
      str(tmp_path / "cell")
  ],
                        cwd=repo,
                        capture_output=True,
                        text=True,
                        check=False,
                        timeout=60)
  assert time.time() - start < 30
  assert proc.returncode == 3
  assert "the trainer of" in proc.stderr and "failed (exit 3)" in proc.stderr
  assert (tmp_path / "cell" / "train.log").exists()


# ------------------------------------------------------------- bad input


def write_records(directory, labels, images=None, name="cifar10_train"):
  directory.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(0)
  if images is None:
    images = rng.integers(0, 256, [len(labels), 32, 32, 3]).astype(np.uint8)
  pngs = [
      tf.io.encode_png(im).numpy() if isinstance(im, np.ndarray) else im
      for im in images
  ]
  path = directory / f"{name}-00000-of-00001"
  with tf.io.TFRecordWriter(str(path)) as w:
    for i, (png, label) in enumerate(zip(pngs, labels)):
      w.write(records.make_example(png, int(label), int(label), i))
  return path


def test_label_outside_the_classes_names_file_and_record(tmp_path):
  path = write_records(tmp_path / "d", [1, 2, 3, 12, 4])
  with pytest.raises(ValueError,
                     match=rf"{path}, record 3: label 12 is outside \[0, 10\)"):
    shards.count_records([str(path)], "cifar10")


def test_bad_images_name_file_and_record(tmp_path):
  rng = np.random.default_rng(1)
  good = rng.integers(0, 256, [32, 32, 3]).astype(np.uint8)
  small = rng.integers(0, 256, [16, 32, 3]).astype(np.uint8)
  path = write_records(tmp_path / "a", [1, 2, 3], [good, small, good])
  with pytest.raises(ValueError,
                     match=rf"{path}, record 1: image of shape "
                     r"\[16, 32, 3\], expected \[32, 32, 3\]"):
    shards.count_records([str(path)], "cifar10")
  path = write_records(tmp_path / "b", [1, 2], [good, b"not a png"])
  with pytest.raises(ValueError, match=rf"{path}, record 1: "):
    shards.count_records([str(path)], "cifar10")


def test_empty_shard_and_directory_named_like_a_shard(tmp_path):
  (tmp_path / "e").mkdir()
  (tmp_path / "e" / "cifar10_train-00000-of-00001").write_bytes(b"")
  with pytest.raises(ValueError, match="is empty \\(0 bytes\\)"):
    shards.record_files(str(tmp_path / "e"), "cifar10", "train")
  (tmp_path / "f" / "cifar10_train-00000-of-00001").mkdir(parents=True)
  with pytest.raises(ValueError, match="is a directory, not a TFRecord file"):
    shards.record_files(str(tmp_path / "f"), "cifar10", "train")


@pytest.mark.parametrize("kwargs,message", [
    (dict(learning_rate_decay_factor=-5),
     "--learning_rate_decay_factor=-5 must lie in \\(0, 1\\]"),
    (dict(save_checkpoint_steps=-1), "--save_checkpoint_steps=-1 must be >= 0"),
    (dict(learning_rate=float("nan")),
     "--learning_rate=nan must be a positive"),
])
def test_bad_training_numbers(repo, tmp_path, kwargs, message):
  with pytest.raises(ValueError, match=message):
    training.run(config(repo, tmp_path, **kwargs))
  assert not (tmp_path / "run").exists()


def run_tool(repo, path, *args):
  proc = helpers.run_file(repo / path, *args)
  lines = proc.stderr.strip().splitlines()
  return proc.returncode, lines[-1] if lines else ""


def test_bad_tool_flags_get_one_line(repo, tmp_path):
  code, line = run_tool(repo, "code/cifar_eval.py", "--mode=dump",
                        f"--checkpoint_dir={tmp_path}", f"--data_dir={DEMO}",
                        f"--dump_file={tmp_path / 'd.txt'}", "--dump_epoch=-7")
  assert code == 1 and "--dump_epoch=-7 must lie in [0, 99]" in line
  code, line = run_tool(repo, "code/training_mentornet/visualizer.py",
                        f"--model_dir={PD}", "--loss_bound=nan")
  assert code == 1 and "--loss_bound=nan must be a positive number" in line
  a_file = tmp_path / "file"
  a_file.write_text("x")
  code, line = run_tool(repo, "code/prepare_noisy_cifar.py",
                        f"--output_dir={a_file}", "--tfds_data_dir=/nowhere")
  assert code == 1 and "exists and is not a directory" in line


def test_bad_mentornet_learning_inputs(repo, tmp_path):
  rows = np.tile(np.array([[1.0, 0.5, 0.0, 3.0, 1.0]], np.float32), (64, 1))
  rows[5, 4] = 0.0
  good = tmp_path / "good"
  generate.save_split(rows, rows, str(good))
  code, line = run_tool(repo, "code/training_mentornet/train.py",
                        f"--data_path={good}", f"--train_dir={tmp_path / 't'}",
                        "--learning_rate=nan", "--max_step_train=10")
  assert code == 1 and "learning_rate nan must be a positive number" in line
  for value, message in ((np.nan, "row 7 holds NaN or Inf"),
                         (1.5, "row 7 has target v\\* = 1.5, outside")):
    bad_rows = rows.copy()
    bad_rows[7, 4 if value == 1.5 else 1] = value
    bad = tmp_path / f"bad{value}"
    generate.save_split(bad_rows, rows, str(bad))
    with pytest.raises(ValueError, match=message):
      generate.load_split(str(bad))


def test_prepare_leaves_nothing_when_killed_between_the_splits(
    repo, tmp_path, monkeypatch):
  real = cifar_data.read_split
  calls = []

  def builder(name, data_dir):
    del name, data_dir
    return type(
        "B", (), {
            "info":
                type("I", (), {
                    "features": {
                        "label": type("L", (), {"num_classes": 10})()
                    }
                })()
        })()

  def read_split(builder_, split, max_examples=0):
    del builder_, max_examples
    calls.append(split)
    if split == "test":
      raise KeyboardInterrupt  # killed while the test split is made
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, [20, 32, 32, 3]).astype(np.uint8),
            rng.integers(0, 10, 20), None)

  del real
  monkeypatch.setattr(cifar_data, "tfds_builder", builder)
  monkeypatch.setattr(cifar_data, "read_split", read_split)
  prepare = PrepareConfig(dataset_name="cifar10",
                          noise_fraction=0.4,
                          output_dir=str(tmp_path))
  with pytest.raises(KeyboardInterrupt):
    cifar_data.prepare_noisy_cifar(prepare)
  assert calls == ["train", "test"]
  assert os.listdir(tmp_path / "cifar10") == []  # no split, no temporaries
  # A temporary folder of a killed (dead) process is removed on the rerun.
  stale = tmp_path / "cifar10" / ".tmp-999999999-abc"
  stale.mkdir()
  monkeypatch.setattr(cifar_data,
                      "read_split",
                      lambda b, s, m=0:
                      (np.zeros([4, 32, 32, 3], np.uint8), np.arange(4), None))
  cifar_data.prepare_noisy_cifar(prepare)
  assert sorted(os.listdir(tmp_path / "cifar10")) == ["0.4", "val"]


def test_nan_mentornet_is_refused_before_training(repo, tmp_path):
  from mentornet.models import mentor  # pylint: disable=g-import-not-at-top
  net = mentor.load_mentornet(str(repo / PD))
  net.fc1_bias.assign(tf.fill(net.fc1_bias.shape, float("nan")))
  prefix = tf.train.Checkpoint(mentornet=net).write(str(tmp_path / "nan" / "m"))
  with pytest.raises(ValueError, match="holds NaN or Inf"):
    mentor.load_mentornet(prefix)
  code, line = run_tool(repo, "code/cifar_train_mentornet.py",
                        *train_args(tmp_path / "run",
                                    2)[:3], f"--trained_mentornet_dir={prefix}",
                        "--batch_size=16", "--max_number_of_steps=2")
  assert code == 1 and "holds NaN or Inf" in line
  assert not tf.train.latest_checkpoint(str(tmp_path / "run"))
