"""The project's own promises: CI runs README's commands."""

import re


def _fenced_commands(text, heading):
  section = text.split(heading, 1)[1].split("\n## ", 1)[0]
  return re.findall(r"```bash\n(.*?)\n```", section, re.S)


def test_ci_runs_readme_install_and_test_commands(repo):
  readme = (repo / "README.md").read_text()
  ci = (repo / ".ci" / "run").read_text().splitlines()
  blocks = _fenced_commands(readme, "## Quick start")
  venv, install, tests = blocks[0], blocks[1], blocks[-1]
  for command in venv.split(" && "):
    assert command in ci
  assert install.startswith("pip install") and install in ci
  assert tests == "python -m pytest -q" and tests in ci  # the full suite
  assert 'python -m pytest -q -m "not slow"' in blocks
