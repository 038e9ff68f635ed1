"""The code's design as rules that can fail: every default declared once, no
import cycle, a library that never reads flags, rooms of modest size."""

import ast
import dataclasses
import json
import re
import subprocess
import sys

import pytest

from mentornet import config

LIBRARY = "code/mentornet"
MAX_LINES = 360  # "about 350"

# script -> the config dataclass its flags build
SCRIPT_CONFIGS = {
    "cifar_train_mentornet": "TrainConfig",
    "cifar_train_baseline": "TrainConfig",
    "cifar_train_mentormix": "TrainConfig",
    "cifar_eval": "EvalConfig",
    "prepare_noisy_cifar": "PrepareConfig",
    "training_mentornet.train": "MentorNetTrainConfig",
    "training_mentornet.data_generator": "MentorNetDataConfig",
    "training_mentornet.evaluate": "MentorNetEvalConfig",
    "training_mentornet.visualizer": "MentorNetPictureConfig",
    "plot_runs": "PlotConfig",
}

PROBE = """
import dataclasses, json, sys
sys.argv = ["probe"]
import importlib
importlib.import_module(sys.argv_module)
from absl import flags
from mentornet import config
from mentornet.config import settings
cls = getattr(config, sys.argv_config)
out, fields = {}, set()
for _, f in settings.leaf_fields(cls):
  name = settings.flat_name(f)
  if not f.metadata.get("flag", True):
    continue
  fields.add(name)
  if name not in flags.FLAGS:
    out[name] = None
    continue
  flag = flags.FLAGS[name]
  default = flag.default
  out[name] = {
      "flag": [default if not isinstance(default, list) else
               [int(x) for x in default], flag.help,
               list(getattr(flag.parser, "enum_values", None) or [])],
      "field": [list(f.default) if isinstance(f.default, tuple) else
                f.default, config.flag_help(f),
                list(f.metadata.get("choices") or [])]}
own = set()
for module, defined in flags.FLAGS.flags_by_module_dict().items():
  if module.startswith(("absl", "tensorflow")):
    continue
  own.update(flag.name for flag in defined)
print(json.dumps({"pairs": out, "others": sorted(own - fields)}))
"""

# Flags that are no run's setting: the original's TF1 and device flags,
# --verbose, absl's own, and the misspelling's alias.
NOT_SETTINGS = {
    "master", "device_id", "ps_tasks", "task", "verbose", "loss_p_precentile"
}


@pytest.mark.parametrize("module", sorted(SCRIPT_CONFIGS))
def test_every_flag_is_its_config_field(repo, module):
  """Each flag of a script is a field of its config: the same default, the
  help and allowed values declared there (`config.flag_help`)."""
  probe = PROBE.replace("sys.argv_module",
                        repr(module)).replace("sys.argv_config",
                                              repr(SCRIPT_CONFIGS[module]))
  proc = subprocess.run([sys.executable, "-c", probe],
                        cwd=repo / "code",
                        capture_output=True,
                        text=True,
                        check=False)
  assert proc.returncode == 0, proc.stderr[-2000:]
  found = json.loads(proc.stdout.strip().splitlines()[-1])
  pairs = found["pairs"]
  baseline = module == "cifar_train_baseline"
  for name, pair in pairs.items():
    if pair is None:  # the curriculum's and MentorMix's come with their
      # scripts
      assert (name in config.MENTORMIX_FIELDS and
              module != "cifar_train_mentormix" or
              baseline and name in config.CURRICULUM_FIELDS), (module, name)
      continue
    (flag, flag_help, flag_choices), (field, help_text,
                                      choices) = (pair["flag"], pair["field"])
    if module == "cifar_train_mentormix" and name in config.MENTORMIX_DEFAULTS:
      field = config.MENTORMIX_DEFAULTS[name]  # the MentorMix script's own
    assert flag == field, (module, name, flag, field)
    if choices:  # absl writes them first: "<eval|dump>: ..."
      flag_help = flag_help.split(": ", 1)[1]
    assert flag_help == help_text, (module, name)
    assert flag_choices == choices, (module, name)
  assert set(found["others"]) <= NOT_SETTINGS, (module, found["others"])
  if module in ("cifar_train_mentornet", "cifar_train_mentormix"):
    assert all(pairs[f] for f in config.CURRICULUM_FIELDS)


def test_no_flag_is_declared_outside_the_configs(repo):
  """Defaults live in `mentornet.config`: flags are made from its fields by
  `flags_lib.define_from_config`, which alone calls absl's DEFINE_* (with
  cli.py's --verbose and flags_lib's TF1 flags, which are no settings)."""
  for path in (repo / "code").rglob("*.py"):
    if path.name in ("flags_lib.py", "cli.py"):
      continue
    assert not re.search(r"flags\.DEFINE_(?!alias)", path.read_text()), path


def test_the_predefined_curricula_are_named_in_the_config():
  from mentornet.learning import vstar  # pylint: disable=g-import-not-at-top
  assert sorted(config.tools.VSTAR_NAMES) == sorted(vstar.VSTAR_FUNCTIONS)


def test_curriculum_settings_are_declared_once(repo):
  """Only config.py gives the six settings defaults; the layer, the Keras
  model and the flags take them from there."""
  for path in (repo / LIBRARY).rglob("*.py"):
    if path.name == "config.py":
      continue
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = node.args.args + node.args.kwonlyargs
        named = {a.arg for a in args}
        assert not named & {
            "loss_p_percentile", "burn_in_epoch", "loss_moving_average_decay",
            "example_dropout_rates", "fixed_epoch_after_burn_in"
        }, (path, node.name)


def _modules(root):
  """{dotted name: path} of the project's own modules under code/."""
  out = {}
  for path in root.rglob("*.py"):
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
      parts = parts[:-1]
    out[".".join(parts)] = path
  return out


def _imports(path, name, modules):
  """The project modules `path` imports, at the top or inside functions."""
  found = set()
  package = name if path.name == "__init__.py" else name.rpartition(".")[0]
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      found.update(a.name for a in node.names if a.name in modules)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        base = ".".join(
            package.split(".")[:len(package.split(".")) - node.level + 1] +
            [base])
      for alias in node.names:
        target = f"{base}.{alias.name}"
        found.add(target if target in modules else base)
  return {m for m in found if m in modules and m != name}


def test_no_import_cycle(repo):
  root = repo / "code"
  modules = _modules(root)
  graph = {name: _imports(path, name, modules) for name, path in modules.items()}
  # A package's __init__ that only gathers its own submodules is a facade,
  # not a dependency of those submodules.
  state = {}

  def visit(name, trail):
    state[name] = "open"
    for target in sorted(graph[name]):
      if state.get(target) == "open":
        cycle = trail[trail.index(target):] + [target]
        raise AssertionError(" -> ".join(cycle))
      if target not in state:
        visit(target, trail + [target])
    state[name] = "done"

  for name in sorted(graph):
    if name not in state:
      visit(name, [name])
  assert "mentornet.training.loop" in graph
  assert "mentornet.training.distributed" in graph["mentornet.training.loop"]
  assert "mentornet.training.step" in graph["mentornet.training.distributed"]
  assert "mentornet.training.step" in graph["mentornet.training.keras_model"]


def test_the_library_reads_no_flags_and_its_rooms_are_small(repo):
  for path in (repo / LIBRARY).rglob("*.py"):
    text = path.read_text()
    assert "absl import flags" not in text and "absl.flags" not in text, path
    assert len(text.splitlines()) <= MAX_LINES, (path, len(text.splitlines()))


def test_config_dataclasses_have_no_tensorflow(repo):
  probe = ("import sys; import mentornet.config, mentornet.data.datasets, "
           "mentornet.files, "
           "mentornet.models.students, mentornet_cli.train_flags; "
           "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
  proc = subprocess.run([sys.executable, "-c", probe],
                        cwd=repo / "code",
                        capture_output=True,
                        text=True,
                        check=False)
  assert proc.stdout.strip() == "False False", proc.stderr[-2000:]


def test_train_config_keeps_the_record_format():
  """train_config.json's keys: the flags plus the rules, flat as before."""
  record = config.TrainConfig.from_flat(train_log_dir="x",
                                        data_dir="d").to_json_dict()
  assert "train_log_dir" not in record
  for name in config.CURRICULUM_FIELDS + ("use_mentornet", "studentnet",
                                          "regularization", "schedule"):
    assert name in record
  assert all(not dataclasses.is_dataclass(v) for v in record.values())


MAX_FUNCTION_LINES = 60


def test_no_function_is_longer_than_sixty_lines(repo):
  """A function's length is its lines from `def` to its last line, docstring
  and comments included, for every function and method under code/."""
  long = []
  for path in (repo / "code").rglob("*.py"):
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        length = node.end_lineno - node.lineno + 1
        if length > MAX_FUNCTION_LINES:
          long.append(f"{path.relative_to(repo)}:{node.lineno} {node.name} "
                      f"({length} lines)")
  assert not long, long


# Rooms, lowest first: a room may import the ones before it, never after.
ROOMS = [
    "mentornet.errors", "mentornet.files", "mentornet.config",
    "mentornet.registry", "mentornet.data", "mentornet.models",
    "mentornet.curriculum", "mentornet.runs", "mentornet.training",
    "mentornet.evaluation", "mentornet.learning"
]


def _room(name):
  return next((r for r in ROOMS if name == r or name.startswith(r + ".")), None)


def test_rooms_import_only_the_rooms_below(repo):
  """The run's safety (`mentornet.runs`) sits below training and evaluation,
  which both use it; evaluation does not import training."""
  root = repo / "code"
  modules = _modules(root)
  wrong = []
  for name, path in modules.items():
    room = _room(name)
    if room is None:
      continue
    for target in _imports(path, name, modules):
      other = _room(target)
      if other and other != room and ROOMS.index(other) > ROOMS.index(room):
        wrong.append(f"{name} imports {target}")
  assert not wrong, wrong
  graph = {n: _imports(p, n, modules) for n, p in modules.items()}
  assert not any(
      t.startswith("mentornet.training")
      for n in graph if n.startswith("mentornet.evaluation") for t in graph[n])
  assert "mentornet.runs.checkpoints" in graph["mentornet.training.loop"]
  assert "mentornet.runs.run_dir" in graph["mentornet.evaluation.evaluate"]


def test_the_command_line_catches_errors_in_one_place(repo):
  """Scripts hold no `except`; `cli.guarded` turns the project's errors into
  one line."""
  scripts = list((repo / "code").glob("*.py")) + list(
      (repo / "code" / "training_mentornet").glob("*.py"))
  for path in scripts + list((repo / "code" / "mentornet_cli").glob("*.py")):
    if path.name == "cli.py":
      continue
    text = path.read_text()
    assert "except (" not in text and "cli.fail(" not in text, path
  cli = (repo / "code" / "mentornet_cli" / "cli.py").read_text()
  assert cli.count("except errors.") == 2  # Interrupted, then the rest
