"""Every script and installed command explains itself with `--help`."""

import os
import re
import subprocess
import sys

import pytest

from mentornet import config

DEFINE = re.compile(r"DEFINE_\w+\(\s*\"(\w+)\"")

# script path -> installed command
SCRIPTS = {
    "code/cifar_train_baseline.py": "cifar_train_baseline",
    "code/cifar_train_mentornet.py": "cifar_train_mentornet",
    "code/cifar_train_mentormix.py": "cifar_train_mentormix",
    "code/cifar_eval.py": "cifar_eval",
    "code/prepare_noisy_cifar.py": "prepare_noisy_cifar",
    "code/training_mentornet/data_generator.py": "mentornet_data_generator",
    "code/training_mentornet/train.py": "mentornet_train",
    "code/training_mentornet/visualizer.py": "mentornet_visualizer",
    "code/training_mentornet/evaluate.py": "mentornet_evaluate",
    "code/plot_runs.py": "mentornet_plot",
}

# script path -> the config dataclass whose fields are its flags
CONFIGS = {
    "code/cifar_train_baseline.py": "TrainConfig",
    "code/cifar_train_mentornet.py": "TrainConfig",
    "code/cifar_train_mentormix.py": "TrainConfig",
    "code/cifar_eval.py": "EvalConfig",
    "code/prepare_noisy_cifar.py": "PrepareConfig",
    "code/training_mentornet/train.py": "MentorNetTrainConfig",
    "code/training_mentornet/data_generator.py": "MentorNetDataConfig",
    "code/training_mentornet/evaluate.py": "MentorNetEvalConfig",
    "code/training_mentornet/visualizer.py": "MentorNetPictureConfig",
    "code/plot_runs.py": "PlotConfig",
}


def own_flags(repo, path):
  """Flag names the script defines itself, its config's fields that are
  flags, the original's TF1 and device flags where it takes them, and
  --verbose."""
  from mentornet.config import settings  # pylint: disable=g-import-not-at-top
  names = DEFINE.findall((repo / path).read_text())
  names += DEFINE.findall((repo / "code/mentornet_cli/cli.py").read_text())
  if path in CONFIGS:
    names += [
        settings.flat_name(f)
        for _, f in settings.leaf_fields(getattr(config, CONFIGS[path]))
        if f.metadata.get("flag", True)
    ]
  if "cifar_train_" in path or "cifar_eval" in path:
    names += ["master", "device_id"]
  if "cifar_train_" in path:
    names += ["ps_tasks", "task"]
    if "baseline" in path:
      names = [n for n in names if n not in config.CURRICULUM_FIELDS]
    if "mentormix" not in path:
      names = [n for n in names if n not in config.MENTORMIX_FIELDS]
  assert names, path
  return names


def entry_point(repo):
  """The `console_scripts` entry of each command, read from setup.py."""
  text = (repo / "setup.py").read_text()
  assert 'f"{name}={name}:run" for name in SCRIPTS' in text
  assert 'f"mentornet_{name}=training_mentornet.{name}:run"' in text
  assert '"mentornet_plot=plot_runs:run"' in text
  return {
      cmd: ("plot_runs" if cmd == "mentornet_plot" else
            f"training_mentornet.{cmd[len('mentornet_'):]}" if
            cmd.startswith("mentornet_") else cmd) for cmd in SCRIPTS.values()
  }


def help_text(repo, argv):
  proc = subprocess.run(argv + ["--help"],
                        cwd=repo,
                        capture_output=True,
                        text=True,
                        check=False,
                        env=dict(os.environ,
                                 TF_CPP_MIN_LOG_LEVEL="3",
                                 PYTHONPATH=str(repo / "code")))
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "Try --helpfull" in proc.stdout, proc.stderr[-2000:]
  return proc.stdout


@pytest.mark.parametrize("path", sorted(SCRIPTS))
def test_help_lists_own_flags_and_usage(repo, path):
  module = entry_point(repo)[SCRIPTS[path]]
  # As a file, and exactly as the installed command's generated wrapper runs.
  as_command = [
      sys.executable, "-c", f"import sys; sys.argv[0] = {SCRIPTS[path]!r}; "
      f"from {module} import run; sys.exit(run())"
  ]
  for argv in ([sys.executable, path], as_command):
    text = help_text(repo, argv)
    for name in own_flags(repo, path):
      assert f"--{name}:" in text or f"--[no]{name}:" in text, (argv, name)
    assert "(default:" in text
    first_line = (repo / path).read_text().split('"""')[1].splitlines()[0]
    assert first_line.strip() in text  # the docstring's usage
    # No `%` of the docstring was formatted into a path.
    assert SCRIPTS[path] + "ubset" not in text and "py.pyubset" not in text
  if path == "code/cifar_eval.py":
    assert "a 10% subset of the training data" in text


@pytest.mark.parametrize("data_dir", ["data/demo", "data/demo/cifar10"])
def test_data_dir_one_level_too_high_names_the_record_dirs(repo, data_dir):
  from mentornet.data import shards  # pylint: disable=g-import-not-at-top
  with pytest.raises(FileNotFoundError) as info:
    shards.record_files(str(repo / data_dir), "cifar10", "train")
  message = str(info.value)
  assert "no files match" in message
  assert "directories below it that do hold them" in message
  assert str(repo / "data/demo/cifar10/0.4") + "/" in message
  with pytest.raises(FileNotFoundError, match="cifar10/val/"):
    shards.record_files(str(repo / data_dir), "cifar10", "test")


TF_CHATTER = ("oneDNN", "cuda", "cuInit", "absl::InitializeLog", "I0000",
              "E0000", "W0000", "AVX", "WARNING:tensorflow")


def user_env():
  """The environment of a user who set nothing: no TF_CPP_MIN_LOG_LEVEL."""
  env = dict(os.environ)
  env.pop("TF_CPP_MIN_LOG_LEVEL", None)
  env.pop("MENTORNET_VERBOSE", None)
  return env


@pytest.mark.slow
def test_training_prints_its_own_lines_and_where_results_are(repo, tmp_path):
  args = [
      sys.executable, "code/cifar_train_mentornet.py", "--studentnet=inception",
      "--data_dir=data/demo/cifar10/0.4", f"--train_log_dir={tmp_path / 'run'}",
      "--trained_mentornet_dir=mentornet_models/models/mentornet_pd1_g_1/"
      "mentornet_pd", "--batch_size=16", "--max_number_of_steps=4",
      "--log_every_n_steps=100", "--example_dropout_rates=0.5,100"
  ]
  proc = subprocess.run(args,
                        cwd=repo,
                        capture_output=True,
                        text=True,
                        check=False,
                        env=user_env())
  assert proc.returncode == 0, proc.stderr[-2000:]
  output = proc.stdout + proc.stderr
  for chatter in TF_CHATTER:
    assert chatter not in output, (chatter, output[:3000])
  lines = [l for l in proc.stderr.splitlines() if "step " in l and "/4" in l]
  assert "step 1/4" in lines[0] and "(first step, with compilation)" in lines[0]
  assert "ETA" not in lines[0]  # the compilation would mislead it
  assert re.search(r"loss [\d.]+  weighted [\d.]+  total [\d.]+", lines[0])
  # the last step, though not a multiple of --log_every_n_steps (100)
  assert "step 4/4" in lines[1] and "ETA 0h00m" in lines[1]
  last = proc.stderr.strip().splitlines()[-1]
  assert re.search(r"done: 4 steps to step 4, final loss [\d.]+", last)
  assert f"in {tmp_path / 'run'}" in last
  assert f"tensorboard --logdir {tmp_path / 'run'}" in last
  verbose = subprocess.run(
      args[:4] + [f"--train_log_dir={tmp_path / 'verbose'}"] + args[5:] +
      ["--verbose"],
      cwd=repo,
      capture_output=True,
      text=True,
      check=False,
      env=user_env())
  assert verbose.returncode == 0, verbose.stderr[-2000:]
  assert any(c in verbose.stderr for c in TF_CHATTER)


@pytest.mark.parametrize("path", sorted(SCRIPTS))
def test_help_answers_without_tensorflow(repo, path):
  module = entry_point(repo)[SCRIPTS[path]]
  probe = (f"import sys; sys.argv = [{SCRIPTS[path]!r}, '-h']\n"
           f"from {module} import run\n"
           "try:\n  run()\nexcept SystemExit as e:\n  code = e.code\n"
           "print('exit', code, 'tensorflow' in sys.modules)")
  proc = subprocess.run([sys.executable, "-c", probe],
                        cwd=repo,
                        capture_output=True,
                        text=True,
                        check=False,
                        env=dict(user_env(), PYTHONPATH=str(repo / "code")))
  assert proc.stdout.strip().splitlines()[-1] == "exit 0 False", proc.stderr
  # The installed command's usage names the command, not `python code/...`.
  assert f"  {SCRIPTS[path]} " in proc.stdout
  assert "python code/" not in proc.stdout
  assert ".venv" not in proc.stdout


@pytest.mark.slow
def test_keras_example_answers_help_and_runs_from_anywhere(repo, tmp_path):
  for flag in ("--help", "-h"):
    proc = subprocess.run(
        [sys.executable,
         str(repo / "code" / "keras_fit_example.py"), flag],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60)
    assert proc.returncode == 0 and "from any directory" in proc.stdout
    assert "tensorflow" not in proc.stderr.lower()
  proc = subprocess.run(
      [sys.executable,
       str(repo / "code" / "keras_fit_example.py"), "--x"],
      cwd=tmp_path,
      capture_output=True,
      text=True,
      check=False,
      timeout=60)
  assert proc.returncode == 1 and "takes no arguments" in proc.stderr
