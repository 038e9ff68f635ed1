"""Throughput of the StudentNet training pipeline after its first pass.

  python benchmarks/input_pipeline.py [--data_dir=data/demo/cifar10/0.4]

Measures augmented images/s once the decoded images are cached (the steady
state of training), for both StudentNets at batch 128, and writes
benchmarks/results/input_pipeline.{md,json}.
"""

import os
import platform
import time

from absl import app
from absl import flags

import hostinfo
from mentornet.data import inputs
from mentornet.data import shards
from mentornet.models import students

flags.DEFINE_string("data_dir", "data/demo/cifar10/0.4", "Training records.")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("batches", 400, "Batches timed after the first pass.")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where to write.")
FLAGS = flags.FLAGS


def measure(studentnet):
  files = shards.record_files(FLAGS.data_dir, "cifar10", "train")
  examples = inputs.load_examples(files, "cifar10")  # decoded once
  iterator = iter(
      inputs.train_dataset(FLAGS.data_dir,
                           "cifar10",
                           students.get(studentnet).pad,
                           FLAGS.batch_size,
                           examples=examples))
  for _ in range(10):  # warm-up
    next(iterator)
  start = time.perf_counter()
  for _ in range(FLAGS.batches):
    next(iterator)
  return FLAGS.batches * FLAGS.batch_size / (time.perf_counter() - start)


def main(argv):
  del argv
  result = {
      "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
      "data_dir": FLAGS.data_dir,
      "batch_size": FLAGS.batch_size,
      "images_per_second": {
          n: round(measure(n)) for n in students.names()
      }
  }
  lines = [
      "# Training input pipeline throughput", "",
      "Command: `python benchmarks/input_pipeline.py` "
      f"(data `{FLAGS.data_dir}`, batch {FLAGS.batch_size}, "
      f"{FLAGS.batches} batches after the first pass).",
      f"Machine: {result['machine']}.", "",
      "| StudentNet preprocessing | augmented images/s |", "|---|---|"
  ]
  lines += [f"| {n} | {v} |" for n, v in result["images_per_second"].items()]
  lines += ["", "Target: at least 5,000 images/s on the 2-core CPU machine."]
  hostinfo.write_results(FLAGS.results_dir, "input_pipeline", result, lines)


if __name__ == "__main__":
  app.run(main)
