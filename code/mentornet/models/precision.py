"""Mixed precision: a StudentNet that computes in bfloat16 or float16.

`--precision` (`config.ModelConfig.precision`) is one of `PRECISIONS`:
`float32` (the default, the original's arithmetic), `mixed_bfloat16` (CPUs
with bfloat16 instructions, recent GPUs) or `mixed_float16` (GPUs). A mixed
precision is a Keras dtype policy: every layer built inside `scope(...)`
computes in the low precision and keeps its variables in float32.

Invariants:
  - Variables are float32 at every precision, so checkpoints are
    interchangeable: a run saved at one precision restores, evaluates and
    is reused at any other.
  - float32 islands: the StudentNets' logits layer, the softmax and
    cross-entropy (the step casts any model's output to float32 first), the
    per-example losses, the whole curriculum (its layers always compute in
    float32), MentorMix's mixing factors, the weight average and the
    batch-norm statistics (Keras' BatchNormalization computes in float32),
    and CifarNet's local response normalisation (no bfloat16 CPU kernel).
  - `mixed_float16` wraps the optimizer in Keras' `LossScaleOptimizer`
    (dynamic loss scaling). A step whose gradients overflow updates no
    weight and halves the scale, as that optimizer does; the step still
    counts (`apply`), so the step number, the schedule and the
    data position stay those of the batches seen, and a resumed run stays
    the same run.
  - A precision without a fast path on this machine still runs, slowly, with
    one warning line (`slow_path_warning`) that says what to use instead;
    nothing falls back silently.

Keras and TensorFlow are imported when a function needs them, so that the
configs and `--help` load without them.
"""

import contextlib
import functools
import os

from absl import logging

from mentornet import errors
from mentornet.config import PRECISIONS, FLOAT32, MIXED_BFLOAT16, MIXED_FLOAT16

__all__ = [
    "PRECISIONS", "FLOAT32", "MIXED_BFLOAT16", "MIXED_FLOAT16", "scope",
    "check", "is_mixed", "policy_of", "wrap_optimizer", "apply", "cpu_flags",
    "slow_path_warning", "warn_if_slow"
]

# CPU flags (Linux /proc/cpuinfo) of a bfloat16 fast path for oneDNN.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# GPUs with fast bfloat16: compute capability 8.0 (Ampere) and later.
BF16_GPU_CAPABILITY = (8, 0)


def check(precision):
  """Raises BadInput, one line, for an unknown precision."""
  if precision not in PRECISIONS:
    raise errors.BadInput(f"--precision={precision} is unknown; choose one of "
                          f"{', '.join(PRECISIONS)}")


def is_mixed(precision):
  return precision != FLOAT32


@contextlib.contextmanager
def scope(precision):
  """Layers built inside compute in `precision` (Keras' global dtype policy,
  put back as it was on leaving)."""
  check(precision)
  import keras  # pylint: disable=g-import-not-at-top
  before = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy(precision)
  try:
    yield
  finally:
    keras.mixed_precision.set_global_policy(before)


def policy_of(model):
  """The precision a Keras model (or layer) was built with: the name of its
  dtype policy when that is one of `PRECISIONS`, else its compute dtype's
  closest (float32 for float32, ...)."""
  name = model.dtype_policy.name
  if name in PRECISIONS:
    return name
  return {
      "bfloat16": MIXED_BFLOAT16,
      "float16": MIXED_FLOAT16
  }.get(model.compute_dtype, FLOAT32)


def wrap_optimizer(optimizer, precision):
  """The optimizer a run at `precision` steps with: float16's gradients are
  scaled dynamically (Keras' `LossScaleOptimizer`); the others unchanged."""
  if precision != MIXED_FLOAT16:
    return optimizer
  import keras  # pylint: disable=g-import-not-at-top
  if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
    return optimizer
  return keras.optimizers.LossScaleOptimizer(optimizer)


def apply(optimizer, gradients, variables):
  """`optimizer.apply(gradients, variables)`, counting a step the loss scaler
  skipped.

  Keras' `LossScaleOptimizer` neither updates the weights nor counts a step
  whose gradients overflowed; the step is still counted here (its batch was
  consumed, its curriculum state moved), so the global step advances as for
  any other. Any other optimizer applies as it always does.
  """
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
    optimizer.apply(gradients, variables)
    return
  iterations = optimizer.iterations
  before = tf.convert_to_tensor(iterations)
  optimizer.apply(gradients, variables)
  skipped = tf.equal(tf.convert_to_tensor(iterations), before)
  iterations.assign_add(tf.cast(skipped, iterations.dtype))


@functools.cache
def cpu_flags(path="/proc/cpuinfo"):
  """The CPU's feature flags (Linux), or an empty set where unknown."""
  try:
    with open(path, encoding="utf-8", errors="replace") as f:
      for line in f:
        if line.startswith("flags"):
          return frozenset(line.split(":", 1)[1].split())
  except OSError:
    pass
  return frozenset()


def _gpu_capabilities():
  """Compute capabilities (major, minor) of the visible GPUs."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  found = []
  for gpu in tf.config.list_physical_devices("GPU"):
    details = tf.config.experimental.get_device_details(gpu)
    found.append(tuple(details.get("compute_capability", (0, 0))))
  return found


def slow_path_warning(precision, gpus, flags):
  """The warning line for a precision this hardware has no fast path for,
  or None.

  Args:
    precision: one of `PRECISIONS`.
    gpus: the compute capabilities of the visible GPUs ([] on a CPU).
    flags: the CPU's feature flags (`cpu_flags()`).
  """
  check(precision)
  if precision == MIXED_FLOAT16 and not gpus:
    hint = ("--precision=mixed_bfloat16" if set(BF16_CPU_FLAGS) &
            flags else "--precision=float32")
    return (f"--precision=mixed_float16 without a GPU: CPUs have no fast "
            f"float16 path, so this runs slower than float32; use {hint} on "
            "this machine")
  if precision == MIXED_BFLOAT16 and gpus:
    if min(gpus) < BF16_GPU_CAPABILITY:
      return ("--precision=mixed_bfloat16 on a GPU of compute capability "
              f"{'.'.join(map(str, min(gpus)))} (bfloat16 is fast from 8.0): "
              "this runs slowly; use --precision=mixed_float16 on this GPU")
  elif precision == MIXED_BFLOAT16 and not set(BF16_CPU_FLAGS) & flags:
    return ("--precision=mixed_bfloat16 on a CPU without bfloat16 "
            f"instructions ({' or '.join(BF16_CPU_FLAGS)} not among its "
            "flags): this runs slower than float32; use --precision=float32 "
            "on this machine")
  return None


_WARNED = set()


def warn_if_slow(precision):
  """Logs `slow_path_warning` for this machine once per process and
  precision; returns the line (or None). `MENTORNET_CPU_FLAGS`, when set,
  replaces the CPU's flags (a comma-separated list; tests)."""
  if not is_mixed(precision):
    return None
  override = os.environ.get("MENTORNET_CPU_FLAGS")
  flags = (frozenset(f for f in override.split(",") if f)
           if override is not None else cpu_flags())
  line = slow_path_warning(precision, _gpu_capabilities(), flags)
  if line and precision not in _WARNED:
    _WARNED.add(precision)
    logging.warning("%s", line)
  return line
