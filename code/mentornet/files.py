"""Files written whole or not at all.

Every state or results file the project writes (a run's configuration and
history, a loss dump, the label-issues table, a picture, a benchmark's
figures) goes through `atomic_file`: the bytes go to a temporary file beside
the target, are flushed to disk, and replace the target in one rename. A kill,
a full disk or an exception part-way leaves the old file (or none) untouched
and no temporary file behind. Imports nothing heavier than the standard
library, so the light tools (`mentornet.config`, the benchmark drivers) can
use it without loading TensorFlow.
"""

import contextlib
import json
import os
import tempfile


@contextlib.contextmanager
def atomic_file(path, mode="w", **open_kwargs):
  """Yields an open file whose contents replace `path` when the block ends.

  Args:
    path: the file to write.
    mode: "w" (text) or "wb" (bytes).
    **open_kwargs: passed on to `open` (e.g. `newline=""` for csv).

  The new file gets the usual permissions (0644), not mkstemp's private ones.
  If the block raises, `path` is left as it was and the exception goes on.
  """
  if mode not in ("w", "wb"):
    raise ValueError(f"atomic_file writes with mode 'w' or 'wb', not {mode!r}")
  directory = os.path.dirname(path) or "."
  name = os.path.basename(path)
  fd, tmp = tempfile.mkstemp(prefix=f".tmp-{name}-", dir=directory)
  try:
    os.fchmod(fd, 0o644)
    with os.fdopen(fd, mode, **open_kwargs) as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise


def write_json_atomically(path, value):
  """Writes `value` as indented JSON to `path`, whole or not at all."""
  with atomic_file(path) as f:
    json.dump(value, f, indent=1)


def write_text_atomically(path, text):
  """Writes the string `text` to `path`, whole or not at all."""
  with atomic_file(path) as f:
    f.write(text)
