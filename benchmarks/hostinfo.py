"""What the benchmarks record about the machine they ran on."""

import os
import platform


def cpu_model():
  """The CPU's model name, e.g. "AMD EPYC" (from /proc/cpuinfo on Linux)."""
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine() or "unknown CPU"


def host():
  """CPU model and core count, as the results files give them."""
  return f"{cpu_model()}, {os.cpu_count()} cores"


def write_results(results_dir, name, result, lines):
  """Writes `<name>.json` (the figures) and `<name>.md` (the table) into
  `results_dir`, and prints the table."""
  import json  # pylint: disable=g-import-not-at-top
  os.makedirs(results_dir, exist_ok=True)
  with open(os.path.join(results_dir, name + ".json"), "w") as f:
    json.dump(result, f, indent=1)
  with open(os.path.join(results_dir, name + ".md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))
