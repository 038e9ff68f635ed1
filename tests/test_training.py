"""StudentNet training: both scripts and nets end to end, resume, mirrored, errors."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers

from mentornet.models import optimizers
from mentornet.models import students
from mentornet import training
from mentornet.runs import checkpoints


def build_student(config):
  """The StudentNet of a TrainConfig or EvalConfig."""
  data = getattr(config, "data", config)
  return students.build_for(config.model, data.dataset_name)


PD = "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd"
DEMO = "data/demo/cifar10/0.4"
SMALL_RESNET = dict(num_residual_units=1, resnet_widths=(16, 32, 64))


def run_schedule(config, num_examples):
  """The learning-rate schedule a run of `config` trains with."""
  config = training.with_rules(config)
  return optimizers.make_schedule(config.optimization, config.data.batch_size,
                                  num_examples)


def config(repo, tmp_path, **kwargs):
  del repo
  return helpers.train_config(
      tmp_path, **{
          "max_number_of_steps": 6,
          "log_every_n_steps": 2,
          **kwargs
      })


def ckpt_value(prefix, key):
  names = [n for n, _ in tf.train.list_variables(prefix) if key in n]
  assert names, key
  return tf.train.load_checkpoint(prefix).get_tensor(names[0])


def run_script(repo, script, *args, **popen):
  cmd = [sys.executable, str(repo / "code" / script), *args]
  if popen:
    return subprocess.Popen(cmd,
                            cwd=repo,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            text=True)
  return subprocess.run(cmd,
                        cwd=repo,
                        capture_output=True,
                        text=True,
                        check=False)


@pytest.mark.parametrize(
    "script", ["cifar_train_baseline.py", "cifar_train_mentornet.py"])
@pytest.mark.parametrize("studentnet", ["resnet101", "inception"])
def test_scripts_end_to_end_write_summaries(repo, tmp_path, script, studentnet,
                                            scalars):
  mentornet = script == "cifar_train_mentornet.py"
  extra = ([
      f"--trained_mentornet_dir={PD}", "--burn_in_epoch=100",
      "--example_dropout_rates=0.25,100"
  ] if mentornet else [])
  proc = run_script(repo, script, f"--studentnet={studentnet}",
                    "--num_residual_units=1", "--resnet_widths=16,32,64",
                    f"--data_dir={DEMO}", f"--train_log_dir={tmp_path}",
                    "--batch_size=16", "--max_number_of_steps=4",
                    "--save_summaries_secs=0", "--log_every_n_steps=2", *extra)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "step 4/4" in proc.stderr and "images/s" in proc.stderr
  assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-4")
  tags = scalars(tmp_path)
  for tag in ("train/loss", "train/total_loss", "train/learning_rate",
              "train/weighted_loss", "train/decay_loss", "mentornet/data_util",
              "mentornet/sum_v"):
    assert [s for s, _ in tags[tag]] == [1, 2, 3, 4], tag
  util = 0.75 if mentornet else 1.0  # burn-in weighs all 1; 12 of 16 kept
  assert all(v == util for _, v in tags["mentornet/data_util"])
  decays = [v for _, v in tags["train/decay_loss"]]
  if studentnet == "inception":
    assert decays == [0.0] * 4  # the original never added CifarNet's fc L2
  else:
    assert all(d > 0 for d in decays)
  for (_, w), (_, d), (_, t) in zip(tags["train/weighted_loss"],
                                    tags["train/decay_loss"],
                                    tags["train/total_loss"]):
    assert t == pytest.approx(w + d, rel=1e-5)
  if mentornet:
    for tag in ("mentornet/percentile_loss", "mentornet/moving_average",
                "mentornet/dropout_rate", "mentornet/epoch"):
      assert len(tags[tag]) == 4, tag
    assert [v for _, v in tags["mentornet/epoch"]] == [0, 25, 50, 75]


@pytest.mark.slow
def test_mentornet_script_honours_misspelled_flag(repo, tmp_path):
  proc = run_script(repo, "cifar_train_mentornet.py", "--studentnet=inception",
                    f"--data_dir={DEMO}", f"--train_log_dir={tmp_path}",
                    f"--trained_mentornet_dir={PD}", "--batch_size=16",
                    "--max_number_of_steps=2", "--loss_p_precentile=0.25")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "misspelling" in proc.stderr
  assert '"loss_p_percentile": 0.25' in (tmp_path /
                                         "train_config.json").read_text()


@pytest.mark.slow
def test_state_resumes_from_checkpoint(repo, tmp_path):
  cfg = config(repo,
               tmp_path,
               use_mentornet=True,
               studentnet="resnet101",
               example_dropout_rates="0.0,100",
               max_number_of_steps=3,
               **SMALL_RESNET)
  training.run(cfg)
  prefix = tf.train.latest_checkpoint(cfg.run.train_log_dir)
  saved_avg = ckpt_value(prefix, "curriculum/moving_average")
  assert saved_avg != 0
  model, _, optimizer, curriculum = training.build_training(cfg, 5000)
  status = tf.train.Checkpoint(model=model,
                               optimizer=optimizer,
                               curriculum=curriculum).restore(prefix)
  status.expect_partial().assert_existing_objects_matched()
  stored = json.loads(checkpoints.stored_config(prefix))
  assert stored["max_number_of_steps"] == 3 and stored["data"]["records"] > 0
  assert int(optimizer.iterations) == 3
  assert float(curriculum.moving_average) == saved_avg
  assert any(np.any(a.numpy() != 0) for a in optimizer.accumulators)
  # Its total steps define the progress epoch: a MentorNet run is not extended.
  cfg.optimization.max_number_of_steps = 5
  with pytest.raises(ValueError, match="cannot be extended"):
    training.run(cfg)
  assert tf.train.latest_checkpoint(cfg.run.train_log_dir).endswith("-3")


@pytest.mark.slow
def test_baseline_run_may_be_extended(repo, tmp_path):
  cfg = config(repo, tmp_path, max_number_of_steps=2)
  training.run(cfg)
  cfg.optimization.max_number_of_steps = 4
  training.run(cfg)
  assert tf.train.latest_checkpoint(cfg.run.train_log_dir).endswith("-4")
  saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
  assert saved["max_number_of_steps"] == 4 and "train_log_dir" not in saved


@pytest.mark.slow
def test_sigkill_then_rerun_finishes(repo, tmp_path):
  args = [
      "--studentnet=inception", f"--data_dir={DEMO}",
      f"--train_log_dir={tmp_path}", f"--trained_mentornet_dir={PD}",
      "--batch_size=16", "--max_number_of_steps=400", "--save_interval_secs=0",
      "--example_dropout_rates=0.0,100", "--log_every_n_steps=50"
  ]
  proc = run_script(repo, "cifar_train_mentornet.py", *args, popen=True)
  deadline = time.time() + 120
  while time.time() < deadline:
    ckpts = glob.glob(str(tmp_path / "model.ckpt-*.index"))
    if len(ckpts) >= 3:
      break
    time.sleep(0.2)
  os.kill(proc.pid, signal.SIGKILL)
  proc.wait()
  # The newest whole checkpoint on disk: the kill may come between a save
  # and the state file naming it, and the rerun resumes from the newest.
  killed_at = checkpoints.complete_prefixes(str(tmp_path), "model.ckpt")[-1]
  step = int(killed_at.rsplit("-", 1)[1])
  assert 0 < step < 400
  avg = ckpt_value(killed_at, "curriculum/moving_average")
  assert ckpt_value(killed_at, "iterations") == step
  rerun = run_script(repo, "cifar_train_mentornet.py", *args)
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert f"resumed from {killed_at}" in rerun.stderr
  assert f"from step {step} to 400" in rerun.stderr
  final = tf.train.latest_checkpoint(str(tmp_path))
  assert final.endswith("model.ckpt-400")
  assert ckpt_value(final, "iterations") == 400
  assert ckpt_value(final, "curriculum/moving_average") != avg


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus(repo, tmp_path):
  assert len(tf.config.list_logical_devices("CPU")) == 2
  cfg = config(repo,
               tmp_path,
               use_mentornet=True,
               studentnet="resnet101",
               distribution_strategy="mirrored",
               max_number_of_steps=3,
               burn_in_epoch=100,
               example_dropout_rates="0.5,100",
               **SMALL_RESNET)
  metrics = training.run(cfg)
  assert np.isfinite(metrics["total_loss"])
  assert metrics["data_util"] == 0.5  # burn-in: all 1, then 4 of 8 per replica
  assert tf.train.latest_checkpoint(cfg.run.train_log_dir).endswith("-3")


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_last_good_checkpoint(repo, tmp_path):
  cfg = config(repo,
               tmp_path,
               learning_rate=1e12,
               max_number_of_steps=50,
               save_interval_secs=0)
  with pytest.raises(training.TrainingError,
                     match=r"total loss is (nan|inf) at step \d+; training "
                     r"stopped. The last good checkpoint is .*model.ckpt-\d+"):
    training.run(cfg)
  last = tf.train.latest_checkpoint(cfg.run.train_log_dir)
  reader = tf.train.load_checkpoint(last)
  for name, _ in tf.train.list_variables(last):
    if name.startswith("model/"):
      assert np.all(np.isfinite(reader.get_tensor(name))), name


@pytest.mark.parametrize("kwargs,message", [
    ({
        "example_dropout_rates": "0.5,17,0.05,80"
    }, "--example_dropout_rates '0.5,17,0.05,80': epoch counts sum to 97"),
    ({
        "loss_p_percentile": 1.5
    }, "--loss_p_percentile=1.5 is outside"),
    ({
        "studentnet": "vgg"
    }, "--studentnet=vgg is unknown"),
    ({
        "dataset_name": "mnist"
    }, "--dataset_name=mnist is unknown"),
    ({
        "data_dir": "/nonexistent/dir"
    }, "data directory '/nonexistent/dir' "
     "does not exist"),
    ({
        "trained_mentornet_dir": "/nonexistent/mentor"
    }, "no MentorNet checkpoint at /nonexistent/mentor"),
    ({
        "burn_in_epoch": 101
    }, "--burn_in_epoch=101 is outside"),
])
def test_bad_flags_fail_before_any_work(repo, tmp_path, kwargs, message):
  cfg = config(repo, tmp_path, use_mentornet=True, **kwargs)
  with pytest.raises((ValueError, FileNotFoundError), match=message):
    training.run(cfg)
  assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_script_bad_flag_is_one_line(repo, tmp_path):
  proc = run_script(repo, "cifar_train_mentornet.py", f"--data_dir={DEMO}",
                    f"--train_log_dir={tmp_path / 'run'}",
                    f"--trained_mentornet_dir={PD}", "--loss_p_percentile=2")
  assert proc.returncode != 0
  assert proc.stderr.strip().splitlines()[-1] == (
      "cifar_train_mentornet.py: error: --loss_p_percentile=2.0 is outside "
      "[0, 1]")
  assert not (tmp_path / "run").exists()


def test_other_configuration_is_not_overwritten(repo, tmp_path):
  training.run(config(repo, tmp_path, max_number_of_steps=2))
  before = sorted(os.listdir(tmp_path / "run"))
  with pytest.raises(ValueError,
                     match="holds a run with another configuration"
                     r" \(learning_rate: 0.1 there, 0.05 here\)"):
    training.run(
        config(repo, tmp_path, max_number_of_steps=4, learning_rate=0.05))
  assert sorted(os.listdir(tmp_path / "run")) == before


def schedule(studentnet, use_mentornet, num_examples=50000, **kwargs):
  cfg = training.TrainConfig.from_flat(train_log_dir="x",
                                       data_dir="x",
                                       studentnet=studentnet,
                                       use_mentornet=use_mentornet,
                                       **kwargs)
  return run_schedule(cfg, num_examples)


def test_learning_rate_schedules():
  piecewise = schedule("resnet101", True)
  assert [float(piecewise(s)) for s in (0, 19531, 19532, 25001, 30001)] == \
      pytest.approx([0.1, 0.1, 0.01, 0.001, 0.0001])
  # baseline resnet really used exponential decay, every 390 x 50 steps
  exp = schedule("resnet101", False)
  assert [float(exp(s)) for s in (19499, 19500, 39000)
         ] == pytest.approx([0.1, 0.01, 0.001])
  # inception: exponential decay in both scripts, every 390 x 200 steps
  for use_mentornet in (False, True):
    inc = schedule("inception", use_mentornet, num_epochs_per_decay=200)
    assert [float(inc(s)) for s in (77999, 78000)] == pytest.approx([0.1, 0.01])
  assert isinstance(
      students.get("inception").make_optimizer(0.1), keras.optimizers.SGD)
  assert isinstance(
      students.get("resnet101").make_optimizer(0.1), optimizers.TF1Momentum)


def test_tf1_momentum_matches_hand_computation():
  var = tf.Variable([1.0, 2.0])
  lr = tf.Variable(0.1)
  opt = optimizers.TF1Momentum(lambda: lr, momentum=0.9)
  opt.build([var])
  a, w = np.zeros(2), np.array([1.0, 2.0])
  for step, rate in enumerate([0.1, 0.1, 0.01]):
    lr.assign(rate)
    g = np.array([0.5, -1.0]) * (step + 1)
    opt.apply([tf.constant(g, tf.float32)], [var])
    a = 0.9 * a + g
    w = w - rate * a
  np.testing.assert_allclose(var.numpy(), w, rtol=1e-6)


def build(studentnet, dataset_name="cifar10", **kwargs):
  return build_student(
      training.TrainConfig.from_flat(train_log_dir="",
                                     data_dir="",
                                     studentnet=studentnet,
                                     dataset_name=dataset_name,
                                     **kwargs))


def test_resnet_structure():
  model = build("resnet101")
  assert model.count_params() == 84667386
  assert len(model.losses) == 56  # 1 + 9 * 3 * 2 conv kernels + fc kernel
  small = build("resnet101", "cifar100", **SMALL_RESNET)
  assert small.output_shape == (None, 100)


def test_cifarnet_structure():
  model = build("inception")
  names = [layer.name for layer in model.layers]
  assert names[1:] == [
      "conv1", "pool1", "norm1", "conv2", "norm2", "pool2", "flatten", "fc3",
      "dropout3", "fc4", "logits"
  ]
  assert model.get_layer("fc3").kernel.shape == (8 * 8 * 64, 384)
  assert len(model.losses) == 2  # fc3 and fc4 kernels only
  np.testing.assert_allclose(model.get_layer("fc3").bias.numpy(), 0.1)
