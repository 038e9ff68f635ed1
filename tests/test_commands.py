"""The experiment grid's command lines parse against the scripts' real flags."""

import collections
import json
import subprocess
import sys

import pytest

PARSER = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
from absl import flags
module = importlib.import_module(sys.argv[2])
for argv in json.loads(sys.stdin.read()):
  flags.FLAGS.unparse_flags()
  flags.FLAGS([sys.argv[2] + '.py'] + argv)
  assert flags.FLAGS.dataset_name in ('cifar10', 'cifar100')
print('parsed', flags.FLAGS.studentnet)
"""


@pytest.mark.parametrize("studentnet", ["resnet", "inception"])
def test_grid_lines_parse_with_script_flags(repo, studentnet, grid_commands):
  commands = grid_commands(repo, studentnet)
  assert len(commands) == 2 * 3 * 6 * 2  # datasets x noises x methods x jobs
  by_script = collections.defaultdict(list)
  for argv in commands:
    assert argv[0] == "python" and argv[1].startswith("code/")
    by_script[argv[1][len("code/"):-len(".py")]].append(argv[2:])
  assert sorted(by_script) == [
      "cifar_eval", "cifar_train_baseline", "cifar_train_mentornet"
  ]
  for module, argvs in by_script.items():
    proc = subprocess.run(
        [sys.executable, "-c", PARSER,
         str(repo / "code"), module],
        input=json.dumps(argvs),
        capture_output=True,
        text=True,
        check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_grid_uses_the_papers_per_method_flags(repo, grid_commands):
  lines = [" ".join(c) for c in grid_commands(repo, "resnet")]
  dd = [
      l for l in lines
      if "mentornet_dd" in l and "train_mentornet" in l and "_as_run" not in l
  ]
  assert len(dd) == 6
  assert all("--fixed_epoch_after_burn_in --burn_in_epoch=18" in l for l in dd)
  assert all("--example_dropout_rates=0.5,17,0.05,78,0.9,5" in l for l in dd)
  assert any("cifar100_0.4" in l and "--loss_p_percentile=0.6" in l for l in dd)
  pd = [l for l in lines if "mentornet_pd1_g_1" in l]
  assert all(("--loss_p_percentile=0.5" in l) == ("_0.8_" in l) for l in pd)
  assert not any("precentile" in l for l in lines)
  inception = [" ".join(c) for c in grid_commands(repo, "inception")]
  assert all("--max_number_of_steps=120000 --num_epochs_per_decay=200" in l
             for l in inception
             if "cifar_train" in l)


@pytest.mark.parametrize("studentnet", ["resnet", "inception"])
def test_grid_runs_dd_as_the_original_commands_ran_it(repo, studentnet,
                                                      grid_commands):
  """The original commands spelled --loss_p_precentile, which TF 1.8's
  tf.app.run (known_only=True) ignored: DD ran with the default 0.7. The
  as-run rows keep every other flag of the written DD rows."""
  lines = [
      c for c in grid_commands(repo, studentnet)
      if c[1] == "code/cifar_train_mentornet.py"
  ]

  def by_log_dir(suffix):
    return {
        next(a for a in c if a.startswith("--train_log_dir="))[:-len(suffix)]:
            c for c in lines if next(
                a for a in c
                if a.startswith("--train_log_dir=")).endswith(suffix)
    }

  as_run, written = by_log_dir("_mentornet_dd_as_run"), by_log_dir(
      "_mentornet_dd")
  assert len(as_run) == 6 and as_run.keys() == written.keys()
  for cell, argv in as_run.items():
    assert "--loss_p_percentile=0.7" in argv
    other = written[cell]
    assert [
        a for a in argv
        if not a.startswith(("--loss_p_percentile=", "--train_log_dir="))
    ] == [
        a for a in other
        if not a.startswith(("--loss_p_percentile=", "--train_log_dir="))
    ]
  assert any(
      "--loss_p_percentile=0.5" in written[c] for c in written if "_0.8" in c)
