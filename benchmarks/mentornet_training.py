"""Time to learn a MentorNet: 30,000 steps of training/train.py.

  python benchmarks/mentornet_training.py

Generates self-paced data, then runs code/training_mentornet/train.py with its
defaults (batch 32, 30,000 steps) as a fresh process, and records the training
loop's wall time (as train.py reports it) and the whole process's wall time in
benchmarks/results/mentornet_training.{md,json}.
Targets on the 2-core CPU machine: loop <= 30 s, process <= 45 s.
"""

import os
import platform
import re
import subprocess
import sys
import tempfile
import time

import hostinfo

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(REPO, "code", "training_mentornet")


def main():
  with tempfile.TemporaryDirectory() as tmp:
    data, model = os.path.join(tmp, "data"), os.path.join(tmp, "model")
    subprocess.run([
        sys.executable,
        os.path.join(SCRIPTS, "data_generator.py"),
        "--vstar_fn=vstar_self_paced", f"--outdir={data}"
    ],
                   check=True,
                   capture_output=True)
    command = [
        sys.executable,
        os.path.join(SCRIPTS, "train.py"), f"--data_path={data}",
        f"--train_dir={model}", "--max_step_train=30000"
    ]
    start = time.perf_counter()
    proc = subprocess.run(command, check=True, capture_output=True, text=True)
    process_seconds = time.perf_counter() - start
  loop_seconds = float(
      re.search(r"training loop ([\d.]+) s", proc.stdout).group(1))
  result = {
      "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
      "steps": 30000,
      "loop_seconds": round(loop_seconds, 1),
      "process_seconds": round(process_seconds, 1)
  }
  lines = [
      "# Learning a MentorNet: 30,000 steps", "",
      "Command: `python benchmarks/mentornet_training.py` (runs "
      "`code/training_mentornet/train.py --max_step_train=30000` on "
      "self-paced data, batch 32).", f"Machine: {result['machine']}.", "",
      "| what | seconds | target |", "|---|---|---|",
      f"| training loop (30,000 steps, 12 evaluations and checkpoints) | "
      f"{result['loop_seconds']} | <= 30 |",
      f"| whole train.py process | {result['process_seconds']} | <= 45 |"
  ]
  hostinfo.write_results(os.path.join(REPO, "benchmarks", "results"),
                         "mentornet_training", result, lines)


if __name__ == "__main__":
  main()
