"""Runs a training script with float32 CifarNet's LRN as the composite formula.

  python benchmarks/composite_lrn.py code/cifar_train_baseline.py FLAGS...
  PYTHON="python benchmarks/composite_lrn.py" bash commands/quickstart.sh DIR

The mixed-precision CifarNet computes its local response normalisation as
float32 ops (`cifarnet.LocalResponseNormalization(exact=False)`), equal to
TensorFlow's LRN kernel up to float32 round-off. Here the float32
`--studentnet=inception` uses that formula too, and nothing else changes: a
run that differs from the float32 run by round-off alone. How far its accuracy
moves from the float32 run's at the same seed says how much of a
mixed-precision run's difference a change at the level of round-off explains
(README, "Mixed precision").
"""

import dataclasses
import os
import runpy
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "code"))

from mentornet.models import students  # pylint: disable=g-import-not-at-top


def _composite_cifarnet(num_classes, size, config):
  del config  # float32 or not, the composite formula
  from mentornet.models.students import cifarnet  # pylint: disable=g-import-not-at-top
  return cifarnet.cifarnet(num_classes, image_size=size, exact_lrn=False)


def main():
  if len(sys.argv) < 2 or not sys.argv[1].endswith(".py"):
    sys.exit("usage: python benchmarks/composite_lrn.py SCRIPT.py [FLAGS...]")
  students.register(
      dataclasses.replace(students.get("inception"), build=_composite_cifarnet))
  script = sys.argv[1]
  sys.argv = sys.argv[1:]
  sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
  runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
  main()
