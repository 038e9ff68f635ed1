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
  from mentornet import files  # pylint: disable=g-import-not-at-top
  os.makedirs(results_dir, exist_ok=True)
  files.write_json_atomically(os.path.join(results_dir, name + ".json"), result)
  files.write_text_atomically(os.path.join(results_dir, name + ".md"),
                              "\n".join(lines) + "\n")
  print("\n".join(lines))
