"""Helpers several test files share (not tests themselves)."""

import os
import pathlib
import subprocess
import sys

from mentornet import config

REPO = pathlib.Path(__file__).resolve().parents[1]
DEMO = "data/demo/cifar10/0.4"
VAL = "data/demo/cifar10/val"
PD = "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd"


def train_config(tmp_path, **kwargs):
  """A small CifarNet run on the demo data in `tmp_path/run`: batch 16,
  summaries at every step, a progress line every 100; a MentorNet run gets
  the shipped PD curriculum unless told otherwise."""
  base = dict(train_log_dir=str(tmp_path / "run"),
              data_dir=str(REPO / DEMO),
              studentnet="inception",
              batch_size=16,
              log_every_n_steps=100,
              save_summaries_secs=0)
  base.update(kwargs)
  if base.get("use_mentornet"):
    base.setdefault("trained_mentornet_dir", str(REPO / PD))
  return config.TrainConfig.from_flat(**base)


def run_script(name, *args, env=None):
  """`code/<name> args` run in the repository, TensorFlow's start-up notes
  quiet: the finished process (stdout and stderr as text)."""
  return run_file(REPO / "code" / name, *args, env=env)


def run_file(path, *args, env=None, stdin=None):
  """`python <path> args` (a path in or outside the repository), as
  `run_script`, with `stdin` (text) as its input."""
  return subprocess.run([sys.executable, str(path), *args],
                        input=stdin,
                        cwd=REPO,
                        capture_output=True,
                        text=True,
                        check=False,
                        env=dict(os.environ,
                                 TF_CPP_MIN_LOG_LEVEL="2",
                                 **(env or {})),
                        timeout=600)


def run_code(code, stdin, *args):
  """`python -c <code> args` in the repository with `stdin`: its stdout,
  once it has exited 0 (else the test fails with its stderr's end)."""
  proc = run_file("-c", code, *args, stdin=stdin)
  assert proc.returncode == 0, proc.stderr[-2000:]
  return proc.stdout
