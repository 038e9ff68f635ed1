"""MentorNet: learning data-driven curricula for deep networks on corrupted labels.

A TensorFlow 2 port of the ICML 2018 research code. The library lives in this
package; the scripts in `code/` are thin flag parsers over it.

Importing it keeps TensorFlow's start-up quiet, as the scripts are (unless
`MENTORNET_VERBOSE=1`, or TensorFlow was imported first): when TensorFlow
loads, its C++ start-up lines (oneDNN, CUDA drivers, CPU instructions) are
not printed, and `TF_CPP_MIN_LOG_LEVEL` defaults to 3 (the failed `cuInit` of
a machine without a GPU). TensorFlow itself is only imported by the modules
that need it, so `mentornet.config` stays light.
"""

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys

__version__ = "0.1.0"

VERBOSE = os.environ.get("MENTORNET_VERBOSE", "") not in ("", "0")


@contextlib.contextmanager
def stderr_closed():
  """Sends file descriptor 2 to /dev/null for a while (TensorFlow's loading
  prints to it before any logging setting applies)."""
  sys.stderr.flush()
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, 2)
  try:
    yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


class _QuietLoader(importlib.abc.Loader):
  """TensorFlow's own loader, run with stderr closed."""

  def __init__(self, loader):
    self._loader = loader

  def create_module(self, spec):
    return self._loader.create_module(spec)

  def exec_module(self, module):
    with stderr_closed():
      self._loader.exec_module(module)

  def __getattr__(self, name):  # resources, source, ... : the real loader's
    return getattr(self._loader, name)


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
  """Finds `tensorflow` as the other finders do, once, and loads it quietly."""

  def find_spec(self, name, path=None, target=None):
    if name != "tensorflow":
      return None
    sys.meta_path.remove(self)
    spec = importlib.machinery.PathFinder.find_spec(name, path)
    if spec is not None and spec.loader is not None:
      spec.loader = _QuietLoader(spec.loader)
    return spec


if not VERBOSE and "tensorflow" not in sys.modules:
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  if not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
    sys.meta_path.insert(0, _QuietTensorFlow())
