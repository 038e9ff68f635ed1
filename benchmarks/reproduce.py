"""The paper's CifarNet table reproduced on real CIFAR-10, one protocol at a time.

  python benchmarks/reproduce.py [--protocol=cpu_1k|cpu_5k_long|paper] [--print]

Every run goes through the real training script with the experiment grid's
per-method flags (`commands/methods.tsv`, which `commands/grid.sh` reads too;
MentorMix: its own grid's CIFAR-10 row, `commands/mentormix.tsv`), with the
evaluation job (`code/cifar_eval.py`) beside it as the original's commands ran
one, scoring every checkpoint on the full 10,000-image test split. Protocols
(`PROTOCOLS`; CifarNet, batch 128, learning rate 0.1 decayed x0.1 once, the
decay step by the original's Python 2 arithmetic `(N // 128) * epochs`):

  cpu_1k       the first 1,000 images, 2,000 steps (256 epochs), decay at
               1,300 (65%); noise 0.4 and 0.8, five methods, MentorMix and DD
               as the original commands ran it; seeds 1 and 2 again for the
               baseline, PD, DD, DD as run and MentorMix. About 4 hours.
  cpu_5k_long  the first 5,000 images for the paper's 307 epochs: 12,000
               steps, decay at 39 x 200 = 7,800 (65%); noise 0.8; baseline, DD
               as written and DD as run, then baseline and DD with seed 1.
               About 32 minutes a run.
  paper        the paper's cell itself: all 50,000 images, the original
               command's flags (120,000 steps, --num_epochs_per_decay=200, so
               the decay at 390 x 200 = 78,000), noise 0.8, baseline and DD as
               the original command ran it (`mentornet_dd_as_run`). About 5.5
               hours a run on 2 cores.

Runs live in --work_dir (default ../mentornet_reproduce, beside the checkout
and outside its tracked files): one folder per protocol and seed, one per
run. Stop an invocation with SIGTERM (or Ctrl-C) at any time: the trainer
saves a checkpoint of the step reached, the evaluation job's rows are whole,
and the same command later resumes the run bit for bit (the number of resumes,
wall and CPU time of each part are kept in the run's
`reproduce_history.json`). A finished run (its `result.json`) is reused, not
rerun. `--print` shows every protocol's commands (or --protocol's) and trains
nothing.

Each protocol writes its table (`PROTOCOLS[...].results_name`); runs of the
same protocol already in that results file are kept, so that runs added later
(more seeds, another method) join the table. Every invocation also redraws
`reproduce_cpu_scale.{md,json,png}`: the noise-0.8 runs of all three
protocols side by side, unfinished ones with the steps they reached
(`--scale_only` does just that).
"""

import dataclasses
import datetime
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time

from absl import app
from absl import flags

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
import hostinfo
from mentornet import files
import reproduce_report as report

flags.DEFINE_enum("protocol", "cpu_1k", ["cpu_1k", "cpu_5k_long", "paper"],
                  "Which protocol to run (see the module's docstring).")
flags.DEFINE_bool(
    "print", False, "Print the protocol's commands (every protocol's, unless "
    "--protocol is given) and train nothing.")
flags.DEFINE_string("tfds_data_dir", "../shared/tensorflow_datasets",
                    "Prepared tensorflow-datasets directory with CIFAR-10.")
flags.DEFINE_string(
    "work_dir", "../mentornet_reproduce",
    "Data and runs, kept across invocations (outside the "
    "source tree's tracked files).")
flags.DEFINE_list("noises", None, "Noise fractions (default: the protocol's).")
flags.DEFINE_list("methods", None, "Methods (default: the protocol's).")
flags.DEFINE_integer("train_examples", None,
                     "Training images used (default: the protocol's; 0: all).")
flags.DEFINE_integer("steps", None, "Training steps per run.")
flags.DEFINE_float("num_epochs_per_decay", None,
                   "Epochs between learning-rate decays.")
flags.DEFINE_integer("save_checkpoint_steps", None, "Evaluation interval.")
flags.DEFINE_integer("save_summaries_steps", None,
                     "Interval of the noise diagnostics.")
flags.DEFINE_integer(
    "seed", 0, "Training seed of the main runs "
    "(initialisation, data order, drop-out draws); the noisy "
    "labels are always seed 0's.")
flags.DEFINE_list(
    "repeat_seeds", None, "Training seeds of the repeated runs (default: the "
    "protocol's; empty: none).")
flags.DEFINE_list("repeat_methods", None,
                  "Methods run again with each of --repeat_seeds.")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where to write.")
flags.DEFINE_string(
    "results_name", None, "Results file name, without .md/.json (default: the "
    "protocol's).")
flags.DEFINE_bool("plot_only", False,
                  "Only redraw the protocol's picture from its results JSON.")
flags.DEFINE_bool(
    "scale_only", False,
    "Only rewrite reproduce_cpu_scale.{md,json,png} from the "
    "work folder and the results files.")
flags.DEFINE_string(
    "notes_file", None, "Hand-written analysis appended to the results file "
    "(default: the protocol's; skipped when absent).")
FLAGS = flags.FLAGS

BATCH_SIZE = 128
CIFAR10_TRAIN = 50000
# The flag the original inception commands gave besides the schedule.
ORIGINAL_DECAY = ("--learning_rate_decay_factor=0.1",)


@dataclasses.dataclass(frozen=True)
class Protocol:
  """One protocol: data, schedule, which runs, and where its table goes."""
  name: str
  train_examples: int  # 0: the whole training split
  steps: int
  num_epochs_per_decay: float
  save_checkpoint_steps: int
  save_summaries_steps: int
  noises: tuple
  methods: tuple
  repeat_seeds: tuple = ()
  repeat_methods: tuple = ()
  results_name: str = ""
  notes_file: str = ""
  log_every_n_steps: int = 500
  extra_flags: tuple = ()

  @property
  def images(self):
    return self.train_examples or CIFAR10_TRAIN

  @property
  def decay_step(self):
    """The first decay's step, as the original computed it (Python 2)."""
    cli.load_tensorflow()
    from mentornet.models import optimizers  # pylint: disable=g-import-not-at-top
    return optimizers.decay_steps(self.images, BATCH_SIZE,
                                  self.num_epochs_per_decay)

  @property
  def epochs(self):
    return self.steps * BATCH_SIZE / self.images


PROTOCOLS = {
    "cpu_1k":
        Protocol(name="cpu_1k",
                 train_examples=1000,
                 steps=2000,
                 num_epochs_per_decay=185.8,
                 save_checkpoint_steps=200,
                 save_summaries_steps=50,
                 noises=("0.4", "0.8"),
                 methods=("baseline", "self_paced", "focal_loss",
                          "mentornet_pd", "mentornet_dd", "mentornet_dd_as_run",
                          "mentormix"),
                 repeat_seeds=("1", "2"),
                 repeat_methods=("baseline", "mentornet_pd", "mentornet_dd",
                                 "mentornet_dd_as_run", "mentormix"),
                 results_name="reproduce_cpu",
                 notes_file="benchmarks/reproduce_notes.md"),
    "cpu_5k_long":
        Protocol(name="cpu_5k_long",
                 train_examples=5000,
                 steps=12000,
                 num_epochs_per_decay=200,
                 save_checkpoint_steps=500,
                 save_summaries_steps=100,
                 noises=("0.8",),
                 methods=("baseline", "mentornet_dd", "mentornet_dd_as_run"),
                 repeat_seeds=("1",),
                 repeat_methods=("baseline", "mentornet_dd"),
                 results_name="reproduce_cpu_5k_long",
                 log_every_n_steps=1000,
                 extra_flags=ORIGINAL_DECAY),
    "paper":
        Protocol(name="paper",
                 train_examples=0,
                 steps=120000,
                 num_epochs_per_decay=200,
                 save_checkpoint_steps=4000,
                 save_summaries_steps=500,
                 noises=("0.8",),
                 methods=("baseline", "mentornet_dd_as_run"),
                 results_name="reproduce_cpu_paper",
                 log_every_n_steps=2000,
                 extra_flags=ORIGINAL_DECAY),
}
SCALE_NAME = "reproduce_cpu_scale"

METHODS_TABLE = "commands/methods.tsv"
MENTORMIX_TABLE = "commands/mentormix.tsv"


def current_protocol():
  """--protocol with whatever its flags override."""
  base = PROTOCOLS[FLAGS.protocol]
  changes = {}
  for field in ("train_examples", "steps", "num_epochs_per_decay",
                "save_checkpoint_steps", "save_summaries_steps", "results_name",
                "notes_file"):
    if getattr(FLAGS, field) is not None:
      changes[field] = getattr(FLAGS, field)
  for field in ("noises", "methods", "repeat_seeds", "repeat_methods"):
    if getattr(FLAGS, field) is not None:
      changes[field] = tuple(getattr(FLAGS, field))
  return dataclasses.replace(base, **changes)


def method_flags(method, noise, studentnet="inception"):
  """The grid's per-method flags: the first matching row of the table that
  commands/grid.sh reads too."""
  with open(METHODS_TABLE) as f:
    for line in f:
      if line.startswith("#") or not line.strip():
        continue
      name, net, level, flags_text = line.rstrip("\n").split("\t")
      if name == method and net in ("*", studentnet) and level in ("*", noise):
        return flags_text.split()
  raise ValueError(f"no row for method {method} in {METHODS_TABLE}")


def mentormix_flags(noise, second_reweight=None):
  """MentorMix's CIFAR-10 flags at `noise` from its grid's table, on this
  protocol's schedule (x0.1 once, as every other method here);
  `second_reweight` True or False overrides the table's choice."""
  with open(MENTORMIX_TABLE) as f:
    for line in f:
      if line.startswith("#") or not line.strip():
        continue
      dataset, level, alpha, percentile, second = line.split()
      if dataset == "cifar10" and level == noise:
        return [
            "--trained_mentornet_dir=mentornet_models/models/"
            "mentornet_pd1_g_1/mentornet_pd",
            f"--loss_p_percentile={percentile}", "--burn_in_epoch=10",
            f"--mixup_alpha={alpha}", "--second_reweight" if
            (second == "yes" if second_reweight is None else second_reweight)
            else "--nosecond_reweight", "--learning_rate_decay_factor=0.1"
        ]
  raise ValueError(f"no cifar10 row for noise {noise} in {MENTORMIX_TABLE}")


# MentorMix and its variants: the table's choice, or second reweighting
# forced off or on (for ablations: --methods=mentormix_no2nd).
MENTORMIX_METHODS = report.MENTORMIX_METHODS


def train_command(protocol, method, noise, data_root, log_dir, seed):
  """The training command of one run (argv, "python" first)."""
  if method == "baseline":
    script, extra = "code/cifar_train_baseline.py", []
  elif method in MENTORMIX_METHODS:
    script = "code/cifar_train_mentormix.py"
    extra = mentormix_flags(noise, MENTORMIX_METHODS[method])
  else:
    script = "code/cifar_train_mentornet.py"
    extra = method_flags(method, noise)
  return ([
      "python", script, "--dataset_name=cifar10", "--studentnet=inception",
      f"--data_dir={data_root}/cifar10/{noise}", f"--train_log_dir={log_dir}",
      f"--batch_size={BATCH_SIZE}", f"--max_number_of_steps={protocol.steps}",
      f"--num_epochs_per_decay={protocol.num_epochs_per_decay:g}",
      f"--save_checkpoint_steps={protocol.save_checkpoint_steps}",
      "--save_interval_secs=100000",
      f"--log_every_n_steps={protocol.log_every_n_steps}",
      "--save_summaries_secs=100000",
      f"--save_summaries_steps={protocol.save_summaries_steps}",
      f"--seed={seed}"
  ] + list(protocol.extra_flags) + extra)


def eval_command(log_dir, data_root):
  """The evaluation job beside the trainer: every checkpoint, once, into the
  run's eval.csv; it stops after the final step."""
  return [
      "python", "code/cifar_eval.py", "--dataset_name=cifar10",
      "--studentnet=inception", f"--checkpoint_dir={log_dir}",
      f"--data_dir={data_root}/cifar10/val",
      f"--output_csv_file={log_dir}/eval.csv", "--batch_size=500",
      "--eval_interval_secs=20"
  ]


# Bumped whenever the training code changes what a run computes, so that runs
# cached by older code are not reused (2: training as the original trained;
# 3: Python 2 decay steps, independent initial values, whole passes, full
# drop-out key, noise diagnostics).
CODE_VERSION = 3


def protocol_name(protocol, seed):
  """The folder of a protocol's runs with one training seed (the cpu_1k
  spelling is the one its earlier runs were kept under)."""
  images = f"{protocol.train_examples}img" if protocol.train_examples else (
      "allimg")
  return (f"v{CODE_VERSION}_{images}_{protocol.steps}steps_"
          f"{protocol.num_epochs_per_decay:g}epd_"
          f"{protocol.save_checkpoint_steps}ckpt" +
          (f"_seed{seed}" if seed else ""))


def data_root_of(protocol):
  return os.path.join(
      FLAGS.work_dir, "data",
      f"{protocol.train_examples}img" if protocol.train_examples else "allimg")


def log_dir_of(protocol, method, noise, seed):
  return os.path.join(FLAGS.work_dir, "runs", protocol_name(protocol, seed),
                      f"{noise}_{method}")


def prepare_data(protocol, data_root):
  from mentornet import config as config_lib  # pylint: disable=g-import-not-at-top
  from mentornet.data import cifar_data  # pylint: disable=g-import-not-at-top
  for noise in protocol.noises:
    if os.path.isdir(os.path.join(data_root, "cifar10", noise)):
      continue
    cifar_data.prepare_noisy_cifar(
        config_lib.PrepareConfig(dataset_name="cifar10",
                                 noise_fraction=float(noise),
                                 seed=0,
                                 tfds_data_dir=FLAGS.tfds_data_dir,
                                 output_dir=data_root,
                                 max_train_examples=protocol.train_examples))


def _read_json(path, default):
  if not os.path.exists(path):
    return default
  with open(path) as f:
    return json.load(f)


class _Children:
  """The trainer and its evaluation job; SIGTERM/SIGINT go on to both, and
  the invocation stops once they have (the trainer saves first)."""

  def __init__(self):
    self.procs, self.signal = [], None

  def __enter__(self):
    self._previous = {
        s: signal.signal(s, self._forward)
        for s in (signal.SIGTERM, signal.SIGINT)
    }
    return self

  def __exit__(self, *exc):
    for s, handler in self._previous.items():
      signal.signal(s, handler)

  def _forward(self, signum, frame):
    del frame
    self.signal = signum
    for proc in self.procs:
      if proc.returncode is None:
        try:
          proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
          pass

  def start(self, argv, log_path):
    log = open(log_path, "a")  # pylint: disable=consider-using-with
    log.write(f"\n# {datetime.datetime.now().isoformat(timespec='seconds')}"
              f" {shlex.join(argv)}\n")
    log.flush()
    proc = subprocess.Popen([sys.executable] + argv[1:],
                            stdout=log,
                            stderr=subprocess.STDOUT)
    proc.log = log
    self.procs.append(proc)
    if self.signal:  # a stop asked for while starting
      proc.send_signal(signal.SIGTERM)
    return proc

  @staticmethod
  def wait(proc):
    """(exit code, CPU seconds) of a child, its own rusage."""
    while True:
      try:
        _, status, usage = os.wait4(proc.pid, 0)
        break
      except ChildProcessError:
        return proc.returncode, 0.0
      except InterruptedError:
        continue
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.log.close()
    return proc.returncode, usage.ru_utime + usage.ru_stime


def _latest_step(log_dir):
  steps = [
      int(m.group(1))
      for name in (os.listdir(log_dir) if os.path.isdir(log_dir) else [])
      for m in [re.fullmatch(r"model\.ckpt-(\d+)\.index", name)]
      if m
  ]
  return max(steps, default=0)


def run_one(protocol, method, noise, seed):
  """Trains and evaluates one run, or resumes it, or returns its result."""
  data_root = data_root_of(protocol)
  log_dir = log_dir_of(protocol, method, noise, seed)
  command = train_command(protocol, method, noise, data_root, log_dir, seed)
  return run_logged(
      log_dir, command, eval_command(log_dir, data_root),
      dict(method=method,
           noise=noise,
           seed=seed,
           protocol=protocol.name,
           folder=protocol_name(protocol, seed)))


def run_logged(log_dir, command, evaluation, fields):
  """Runs `command` (a trainer writing into `log_dir`) with the evaluation
  job `evaluation` beside it, or resumes them, or returns the finished
  run's result: `report.run_record` with `fields` and both commands, kept in
  `log_dir/result.json`. Each invocation is logged in
  `reproduce_history.json`; a signal saves and exits 128 + its number."""
  done = os.path.join(log_dir, "result.json")
  what = (f"{fields['protocol']} {fields['method']} at noise "
          f"{fields['noise']} (seed {fields['seed']})")
  if os.path.exists(done):
    result = _read_json(done, None)
    if result["command"] != shlex.join(command):
      raise SystemExit(f"{done} was made by another command; remove "
                       f"{log_dir} or pass another --work_dir")
    return result
  os.makedirs(log_dir, exist_ok=True)
  history_path = os.path.join(log_dir, "reproduce_history.json")
  history = _read_json(history_path, [])
  for part in history:
    if part.get("open"):  # an invocation killed before it could say
      part["open"], part["lost"] = False, True
  part = {
      "host": socket.gethostname(),
      "cpu": hostinfo.host(),
      "started": datetime.datetime.now().isoformat(timespec="seconds"),
      "start_step": _latest_step(log_dir),
      "open": True
  }
  history.append(part)
  files.write_json_atomically(history_path, history)
  start = time.perf_counter()
  with _Children() as children:
    trainer = children.start(command, os.path.join(log_dir, "train.log"))
    evaluator = children.start(evaluation, os.path.join(log_dir, "eval.log"))
    train_code, train_cpu = children.wait(trainer)
    if train_code != 0 and evaluator.returncode is None:
      evaluator.send_signal(signal.SIGTERM)
    eval_code, eval_cpu = children.wait(evaluator)
    stopped = children.signal
  part.update(open=False,
              wall_seconds=round(time.perf_counter() - start),
              train_cpu_seconds=round(train_cpu),
              eval_cpu_seconds=round(eval_cpu),
              end_step=_latest_step(log_dir),
              train_exit=train_code,
              eval_exit=eval_code)
  files.write_json_atomically(history_path, history)
  if stopped:
    print(
        f"stopped {log_dir} at step {part['end_step']}; the same command "
        "resumes it",
        flush=True)
    raise SystemExit(128 + stopped)
  if train_code != 0 or eval_code != 0:
    raise SystemExit(f"{what} failed: trainer exit {train_code}, evaluation "
                     f"exit {eval_code}; see {log_dir}/train.log and eval.log")
  result = report.run_record(log_dir)
  result.update(fields,
                command=shlex.join(command),
                eval_command=shlex.join(evaluation))
  files.write_json_atomically(done, result)
  print(
      f"{what}: final "
      f"{result['final_accuracy']:.4f} best {result['best_accuracy']:.4f} "
      f"({result['train_seconds'] / 60:.0f} min, {result['resumes']} "
      "resumes)",
      flush=True)
  return result


def planned_runs(protocol, main_seed):
  """(method, noise, seed) of every run of the protocol, in running order."""
  runs = [(m, n, main_seed) for n in protocol.noises for m in protocol.methods]
  for seed in protocol.repeat_seeds:
    if int(seed) != main_seed:
      runs += [(m, n, int(seed))
               for n in protocol.noises
               for m in protocol.repeat_methods]
  return runs


def print_commands(protocols):
  for protocol in protocols:
    print(f"# protocol {protocol.name}: {protocol.images:,} images, "
          f"{protocol.steps:,} steps ({protocol.epochs:.0f} epochs), decay "
          f"x0.1 at step {protocol.decay_step:,} "
          f"({protocol.decay_step / protocol.steps:.0%}); data in "
          f"{data_root_of(protocol)} (made on the first run)")
    for method, noise, seed in planned_runs(protocol, FLAGS.seed):
      log_dir = log_dir_of(protocol, method, noise, seed)
      print(
          shlex.join(
              train_command(protocol, method, noise, data_root_of(protocol),
                            log_dir, seed)))
      print(shlex.join(eval_command(log_dir, data_root_of(protocol))))


def write_results(results, wall_seconds, protocol=None):
  """The protocol's table (joined with its runs already in the results
  file), then the scale table."""
  protocol = protocol or current_protocol()
  report.write_protocol_results(protocol, results, wall_seconds, FLAGS.seed,
                                FLAGS.results_dir, sys.argv[1:],
                                lambda seed: protocol_name(protocol, seed))


def scale_table():
  """reproduce_cpu_scale.*: the noise-0.8 runs of every protocol, the
  unfinished ones with their steps reached. A run is read from the work
  folder; one that is not there (another machine, a lost folder) from its
  protocol's results file, or from the scale table's own earlier record."""
  earlier = report.load_runs(FLAGS.results_dir, SCALE_NAME)
  runs = []
  for protocol in PROTOCOLS.values():
    kept = report.load_runs(FLAGS.results_dir, protocol.results_name) + earlier
    for method, noise, seed in planned_runs(protocol, FLAGS.seed):
      if noise != "0.8" or method not in report.SCALE_METHODS:
        continue
      folder = protocol_name(protocol, seed)
      log_dir = log_dir_of(protocol, method, noise, seed)
      record = report.progress_record(
          log_dir, protocol, method, noise, seed,
          train_command(protocol, method, noise, data_root_of(protocol),
                        log_dir, seed))
      for old in kept:
        if record and not record.get("unfinished"):
          break
        if ((old["noise"], old["method"], old["seed"]) == (noise, method, seed)
            and report.folder_of(old) == folder and
            (record is None or not old.get("unfinished") or
             old["steps_reached"] > record["steps_reached"])):
          record = old
      if record:
        record.update(folder=folder, protocol=protocol.name)
        runs.append(record)
  report.write_scale_results(PROTOCOLS, runs, FLAGS.results_dir, SCALE_NAME)


def main(argv):
  del argv
  chosen = current_protocol()
  if FLAGS.print:
    print_commands(
        [chosen] if FLAGS["protocol"].present else list(PROTOCOLS.values()))
    return
  if FLAGS.scale_only:
    scale_table()
    return
  if FLAGS.plot_only:
    report.replot(chosen, FLAGS.results_dir, FLAGS.seed)
    return
  start = time.perf_counter()
  prepare_data(chosen, data_root_of(chosen))
  results = [
      run_one(chosen, m, n, s) for m, n, s in planned_runs(chosen, FLAGS.seed)
  ]
  write_results(results, time.perf_counter() - start, chosen)
  scale_table()


if __name__ == "__main__":
  app.run(main)
