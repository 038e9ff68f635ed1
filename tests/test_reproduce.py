"""The reproduction protocol uses the grid's flags and writes a truthful table.

benchmarks/reproduce.py defines absl flags of its own, so it is imported in a
subprocess (a second definition in this process would clash).
"""

import json
import shlex
import subprocess
import sys
import types

import pytest

from tests import helpers

HELPER = """
import json, sys
sys.path.insert(0, 'benchmarks')
import reproduce
from absl import flags
flags.FLAGS(['reproduce'] + json.loads(sys.argv[1]))
task = json.loads(sys.stdin.read())
if task['do'] == 'flags':
  print(json.dumps({f"{n} {m}": reproduce.mentormix_flags(n)
                    if m in reproduce.MENTORMIX_METHODS
                    else reproduce.method_flags(m, n)
                    for n in ('0.4', '0.8')
                    for m in reproduce.current_protocol().methods}))
elif task['do'] == 'protocols':
  print(json.dumps({k: [p.images, p.steps, p.decay_step, list(p.noises),
                        list(p.methods), p.save_checkpoint_steps,
                        reproduce.train_command(p, 'mentornet_dd_as_run',
                                                '0.8', 'D', 'L', 0)]
                    for k, p in reproduce.PROTOCOLS.items()}))
elif task['do'] == 'burn_in':
  import scale_analysis
  print(json.dumps({k: scale_analysis.burn_in_step(
      {int(s): 'd' for s in steps}, reproduce.PROTOCOLS[k])
      for k, steps in task['found'].items()}))
elif task['do'] == 'run_logged':
  try:
    result = reproduce.run_logged(task['log_dir'], task['command'],
                                  task['evaluation'], task['fields'])
    print(json.dumps(result))
  except SystemExit as e:
    print(json.dumps({'exit': str(e)}))
else:
  reproduce.write_results(task['results'], 125.0)
"""


def run_helper(repo, argv, task):
  del repo  # helpers.run_code runs in the repository
  return helpers.run_code(HELPER, json.dumps(task), json.dumps(argv))


@pytest.mark.slow
def test_protocol_uses_the_grids_per_method_flags(repo, grid_commands):
  ours = json.loads(run_helper(repo, [], {"do": "flags"}))
  for argv in grid_commands(repo, "inception"):
    if argv[1] == "code/cifar_eval.py" or "--data_dir=data/cifar10/0.2" in argv:
      continue
    if "--dataset_name=cifar10" not in argv:
      continue
    log_dir = next(a for a in argv if a.startswith("--train_log_dir="))
    noise, method = log_dir.split("cifar10_")[1].split("_", 1)
    tail = argv[argv.index("--num_epochs_per_decay=200") + 1:]
    assert ours.pop(f"{noise} {method}") == tail, (noise, method)
  # MentorMix: its own grid's CIFAR-10 row, on the protocol's schedule.
  printed = subprocess.run(
      ["bash", "commands/training_mentormix_command.sh", "--print"],
      cwd=repo,
      capture_output=True,
      text=True,
      check=True).stdout.splitlines()
  for noise in ("0.4", "0.8"):
    flags = ours.pop(f"{noise} mentormix")
    grid = next(line.split()
                for line in printed
                if "cifar_train_mentormix" in line and
                f"--data_dir=data/cifar10/{noise} " in line)
    assert flags[-1] == "--learning_rate_decay_factor=0.1"
    assert set(flags[:-1]) <= set(grid), (noise, flags, grid)
    assert any(f.startswith("--mixup_alpha=") for f in flags)
  assert not ours  # every protocol run has its line in the grid


def test_protocol_table_follows_the_python2_schedule(repo):
  """Images, steps and the first decay step of each protocol; the decay step
  is the original's Python 2 `int(N / B * epochs)`, N / B truncated first."""
  protocols = json.loads(run_helper(repo, [], {"do": "protocols"}))

  def python2_decay(images, epochs):
    return int((images // 128) * epochs)

  expected = {
      "cpu_1k": (1000, 2000, 185.8),
      "cpu_5k_long": (5000, 12000, 200),
      "paper": (50000, 120000, 200)
  }
  for name, (images, steps, epochs) in expected.items():
    got = protocols.pop(name)
    assert got[:3] == [images, steps, python2_decay(images, epochs)], name
    assert got[1] // got[5] >= 10  # checkpoints evaluated along the way
  assert not protocols
  assert python2_decay(50000, 200) == 78000  # not 78,125: 65% of 120,000
  assert python2_decay(5000, 200) == 7800  # 65% of 12,000
  assert python2_decay(1000, 185.8) == 1300  # 65% of 2,000
  paper = json.loads(run_helper(repo, ["--protocol=paper"],
                                {"do": "protocols"}))["paper"]
  assert paper[3] == ["0.8"] and paper[4] == ["baseline", "mentornet_dd_as_run"]
  command = paper[6]
  # The original command's schedule flags, and DD as it really ran.
  for flag in ("--max_number_of_steps=120000", "--num_epochs_per_decay=200",
               "--learning_rate_decay_factor=0.1", "--batch_size=128",
               "--loss_p_percentile=0.7", "--fixed_epoch_after_burn_in",
               "--burn_in_epoch=18", "--example_dropout_rates=0.5,17,0.05,83",
               "--seed=0", "--studentnet=inception"):
    assert flag in command, flag
  assert not any("precentile" in a for a in command)


def test_the_analysis_reads_every_run_at_the_same_burn_in_checkpoint(repo):
  """Burn-in is epoch 18 of 100: step 21,600 of the paper's 120,000. A run
  stopped (and saved) at 22,763 is still read at the regular 24,000, as a
  run never stopped; a stop's checkpoint only when no regular one is left."""
  found = {
      "paper": [20000, 22763, 24000, 28000],
      "cpu_5k_long": [2000, 2160, 2500, 3000],
      "cpu_1k": [360, 375],
  }
  got = json.loads(run_helper(repo, [], {"do": "burn_in", "found": found}))
  assert got == {"paper": 24000, "cpu_5k_long": 2500, "cpu_1k": 360}
  got = json.loads(
      run_helper(repo, [], {
          "do": "burn_in",
          "found": {
              "paper": [20000, 22763],
              "cpu_1k": [200]
          }
      }))
  assert got == {"paper": 22763, "cpu_1k": None}


def test_print_shows_every_protocols_commands(repo, tmp_path):
  proc = subprocess.run([
      sys.executable, "benchmarks/reproduce.py", "--print",
      f"--work_dir={tmp_path}"
  ],
                        cwd=repo,
                        capture_output=True,
                        text=True,
                        check=False)
  assert proc.returncode == 0, proc.stderr[-2000:]
  lines = proc.stdout.splitlines()
  headers = [l for l in lines if l.startswith("# protocol ")]
  assert [h.split()[2].rstrip(":") for h in headers
         ] == ["cpu_1k", "cpu_5k_long", "paper"]
  assert "decay x0.1 at step 78,000 (65%)" in headers[2]
  commands = [l for l in lines if not l.startswith("#")]
  # cpu_1k: 7 methods x 2 noises + 5 x 2 x 2 seeds; 5k: 3 + 2; paper: 2.
  assert len(commands) == 2 * (14 + 20 + 5 + 2)
  assert sum("cifar_eval.py" in l for l in commands) == len(commands) // 2
  assert not list(tmp_path.iterdir())  # nothing made, nothing trained


@pytest.mark.slow
def test_results_file_gives_margins_noise_and_picture(repo, tmp_path):

  def run(method, noise, final, best, seed=0, share=0.6):
    # 1550: a step a SIGTERM saved, kept out of the per-checkpoint table.
    curve = {"200": best - 0.05, "1550": 0.1, "1600": best, "2000": final}
    diagnostics = {
        "steps": [50, 100],
        "series": {
            "weight_share_clean": [0.6, share],
            "mean_weight_clean": [1.0, 0.9],
            "mean_weight_noisy": [1.0, 0.4]
        },
        "final": {
            "weight_share_clean": share,
            "mean_weight_clean": 0.9,
            "mean_weight_noisy": 0.4
        }
    }
    return {
        "method": method,
        "noise": noise,
        "seed": seed,
        "command": f"python x {method} {seed}",
        "train_seconds": 300,
        "eval_seconds": 30,
        "final_accuracy": final,
        "best_accuracy": best,
        "best_step": 1500,
        "accuracy_by_step": curve,
        "diagnostics": diagnostics
    }

  results = [
      run("baseline", "0.4", 0.42, 0.45),
      run("mentornet_dd", "0.4", 0.47, 0.47, share=0.75),
      run("baseline", "0.4", 0.40, 0.41, seed=1),
      run("mentornet_dd", "0.4", 0.43, 0.43, seed=1),
      run("baseline", "0.4", 0.40, 0.41, seed=2),
      run("mentornet_dd", "0.4", 0.44, 0.44, seed=2),
      run("mentormix", "0.4", 0.45, 0.46, share=0.7)
  ]
  notes = tmp_path / "notes.md"
  notes.write_text("## Why\n\nHand-written analysis.\n")
  run_helper(repo, [
      f"--results_dir={tmp_path}", f"--notes_file={notes}",
      "--repeat_methods=baseline,mentornet_dd,mentormix", "--noises=0.4",
      "--methods=baseline,mentornet_dd,mentormix", "--repeat_seeds=1,2"
  ], {
      "do": "write",
      "results": results
  })
  text = (tmp_path / "reproduce_cpu.md").read_text()
  assert ("| 0.4 | baseline | 0 | 0.4200 | 0.4500 (1500) | -3.0 points | "
          "0.600 | 0.900 | 0.400 | 0.720 |") in text
  assert ("| 0.4 | mentornet_dd | 1 | 0.4300 | 0.4300 (1500) | +0.0 points | "
          "0.600 |") in text
  assert "| 0.4 | mentornet_dd | 0 | 0.4700 | 0.4700 (1500) | +0.0 points | 0.750 |" in text
  # DD - baseline: +5.0, +3.0, +4.0: mean +4.0 < +4.3, sd 1.0
  assert ("| 0.4 | +5.0 | +3.0 | +4.0 | +4.0 points | +3.0 to +5.0; sd 1.0 | "
          "+4.3 points | no, short by 0.3 points |") in text
  # MentorMix: its own network's figure beside ours, its margin unmatched.
  assert ("| 0.4 | mentormix | 0 | 0.4500 | 0.4600 (1500) | -1.0 points | "
          "0.700 | 0.900 | 0.400 | (0.944 ResNet-32) |") in text
  mix = text.split("## MentorMix against the baseline")[1]
  assert "| 0.4 | +3.0 |  |  | +3.0 points | +3.0 to +3.0 | none reported" in mix
  assert "| 0.4 | baseline | 0 | 0.400 | 0.450 | 0.420 |" in text
  assert "| 200 | 1600 | 2000 |" in text and "1550" not in text
  assert "Hand-written analysis." in text
  assert text.index("Hand-written") < text.index("python x baseline")
  assert "![test accuracy and clean weight share](reproduce_cpu.png)" in text
  summary = json.loads((tmp_path / "reproduce_cpu.json").read_text())
  assert summary["runs"] == results and summary["run_seconds"] == 2310
  picture = (tmp_path / "reproduce_cpu.png").read_bytes()
  assert picture.startswith(b"\x89PNG") and len(picture) > 10000


def test_scale_table_gives_margins_only_over_finished_pairs(repo, tmp_path):
  """reproduce_cpu_scale.*: DD - baseline per seed and its mean, from
  finished pairs only; a running paper run shows its steps, no margin."""
  sys.path.insert(0, str(repo / "benchmarks"))
  try:
    import reproduce_report  # pylint: disable=g-import-not-at-top
  finally:
    sys.path.remove(str(repo / "benchmarks"))
  protocols = {
      "cpu_1k":
          types.SimpleNamespace(images=1000,
                                steps=2000,
                                decay_step=1300,
                                epochs=256.0),
      "paper":
          types.SimpleNamespace(images=50000,
                                steps=120000,
                                decay_step=78000,
                                epochs=307.2)
  }

  def run(protocol, method, seed, final, best, **extra):
    return dict(protocol=protocol,
                method=method,
                noise="0.8",
                seed=seed,
                command=f"python x {protocol} {method} {seed}",
                train_seconds=3600,
                final_accuracy=final,
                best_accuracy=best,
                best_step=400,
                accuracy_by_step={
                    "400": best,
                    "2000": final
                },
                **extra)

  runs = [
      run("paper",
          "mentornet_dd_as_run",
          0,
          0.41,
          0.41,
          unfinished=True,
          steps_reached=8000),
      run("cpu_1k", "mentornet_dd", 1, 0.148, 0.159),
      run("cpu_1k", "baseline", 0, 0.170, 0.174),
      run("cpu_1k", "mentornet_dd", 0, 0.164, 0.167),
      run("cpu_1k", "baseline", 1, 0.168, 0.178),
      run("paper", "baseline", 0, 0.4297, 0.5573, steps_reached=120000),
  ]
  reproduce_report.write_scale_results(protocols, runs, str(tmp_path), "scale")
  text = (tmp_path / "scale.md").read_text()
  assert ("| cpu_1k | mentornet_dd | -0.6 (seed 0), -2.0 (seed 1) | -1.3 | "
          "+17.1 |") in text
  assert "| paper | mentornet_dd_as_run |" not in text.split("## Margin")[1]
  rows = [l for l in text.splitlines() if l.startswith("| paper | ")]
  assert rows[0].startswith("| paper | 50,000 | 120,000 | 307 | 78,000 (65%)")
  assert "| paper | baseline | 0 | 120,000 of 120,000 | 0.4297 |" in text
  assert "| 8,000 of 120,000 (running) | 0.4100 |" in rows[2]
  assert rows[2].split(" | ")[7] == ""  # no margin for a running run
  assert "| -12.8 |" in rows[1]
  # Sorted by protocol, seed, method; one exact command per run.
  commands = text.split("```bash\n")[1].split("\n```")[0].splitlines()
  assert commands == [
      "python x cpu_1k baseline 0", "python x cpu_1k mentornet_dd 0",
      "python x cpu_1k baseline 1", "python x cpu_1k mentornet_dd 1",
      "python x paper baseline 0", "python x paper mentornet_dd_as_run 0"
  ]
  assert json.loads(
      (tmp_path / "scale.json"
      ).read_text())["runs"][0]["command"] == "python x cpu_1k baseline 0"
  assert (tmp_path / "scale.png").read_bytes()[:4] == b"\x89PNG"


def test_run_logged_records_a_run_once_and_reports_a_failure(repo, tmp_path):
  """The trainer and its evaluation job are run once, logged in the
  history, and the result kept; a finished run is not run again, another
  command is refused, and a failing trainer is named with its exit code."""
  log_dir = tmp_path / "run"
  write_csv = ("import sys; open(sys.argv[1] + '/eval.csv', 'w').write("
               "'step,accuracy,loss\\n200,0.25,2.1\\n400,0.31,2.0\\n"
               "600,0.28,1.9\\n')")
  task = {
      "do": "run_logged",
      "log_dir": str(log_dir),
      "command": ["python", "-c", write_csv,
                  str(log_dir)],
      "evaluation": ["python", "-c", "pass"],
      "fields": {
          "protocol": "cpu_1k",
          "method": "mentornet_dd",
          "noise": "0.8",
          "seed": 0,
          "folder": "F"
      }
  }
  printed = run_helper(repo, [f"--work_dir={tmp_path}"], task).splitlines()
  assert printed[0] == ("cpu_1k mentornet_dd at noise 0.8 (seed 0): final "
                        "0.2800 best 0.3100 (0 min, 0 resumes)")
  got = json.loads(printed[-1])
  assert (got["final_accuracy"], got["best_accuracy"],
          got["best_step"]) == (0.28, 0.31, 400)
  assert got["method"] == "mentornet_dd" and got["folder"] == "F"
  assert got["command"] == "python -c " + shlex.quote(write_csv) + " " + str(
      log_dir)
  assert got["eval_command"] == "python -c pass"
  stored = json.loads((log_dir / "result.json").read_text())
  assert stored == got
  history = json.loads((log_dir / "reproduce_history.json").read_text())
  assert len(history) == 1 and not history[0]["open"]
  assert (history[0]["train_exit"], history[0]["eval_exit"]) == (0, 0)
  # Finished: returned as stored, nothing run again.
  (log_dir / "eval.csv").unlink()
  assert json.loads(run_helper(repo, [f"--work_dir={tmp_path}"], task)) == got
  assert not (log_dir / "eval.csv").exists()
  other = dict(task, command=["python", "-c", "pass"])
  refused = json.loads(run_helper(repo, [f"--work_dir={tmp_path}"], other))
  assert refused["exit"] == (f"{log_dir}/result.json was made by another "
                             f"command; remove {log_dir} or pass another "
                             "--work_dir")
  failing = dict(task,
                 log_dir=str(tmp_path / "bad"),
                 command=["python", "-c", "raise SystemExit(3)"],
                 evaluation=["python", "-c", "import time; time.sleep(60)"])
  failed = json.loads(run_helper(repo, [f"--work_dir={tmp_path}"], failing))
  assert failed["exit"] == ("cpu_1k mentornet_dd at noise 0.8 (seed 0) "
                            "failed: trainer exit 3, evaluation exit -15; see "
                            f"{tmp_path}/bad/train.log and eval.log")
  # (the evaluation job, still waiting, was stopped by SIGTERM)
  assert not (tmp_path / "bad" / "result.json").exists()
