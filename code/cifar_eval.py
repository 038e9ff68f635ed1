r"""Evaluates StudentNet checkpoints, beside training or once.

Beside a training run (it waits for each new checkpoint and stops after the
final step):
  python code/cifar_eval.py --checkpoint_dir=runs/pd --data_dir=data/cifar10/val \
      --output_csv_file=runs/pd/eval.csv
Once, on the latest checkpoint:
  python code/cifar_eval.py --checkpoint_dir=runs/pd --data_dir=data/cifar10/val \
      --eval_once
Per-example losses on a 10% subset of the training data, for a data-driven
MentorNet:
  python code/cifar_eval.py --mode=dump --checkpoint_dir=runs/pd \
      --data_dir=data/cifar10/0.2 --dump_file=runs/nl_0.2.txt
Every training example ranked by how likely its label is wrong, from the
curriculum's weights over the run (runs/pd/label_issues.csv):
  python code/cifar_eval.py --mode=label_issues --checkpoint_dir=runs/pd \
      --data_dir=data/cifar10/0.2
"""

import functools

from absl import flags

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
from mentornet import config as config_lib
from mentornet_cli import flags_lib

flags_lib.define_from_config(config_lib.EvalConfig)
flags_lib.define_tf1_flags()
FLAGS = flags.FLAGS


def main(argv):
  del argv
  # pylint: disable=g-import-not-at-top
  from mentornet.evaluation import evaluate
  from mentornet.evaluation import label_issues
  from mentornet.evaluation import loss_dump
  config = _config()
  if config.mode == "dump":
    loss_dump.run(config)
    return
  if config.mode == "label_issues":
    print(f"wrote {label_issues.run(config)}")
    return
  results = evaluate.run(config)
  if results:
    step = max(results)
    print(f"step {step}: test accuracy {results[step][0]:.4f}, "
          f"loss {results[step][1]:.4f}")


@functools.cache
def _config():
  """The flags' config, built once (its notes, e.g. about --master, too)."""
  return flags_lib.config_from_flags(config_lib.EvalConfig,
                                     keep_defaults=("ema_decay",))


def say_what_it_waits_for():
  """The waiting line, before TensorFlow's seconds of loading."""
  from mentornet.evaluation import waiting  # pylint: disable=g-import-not-at-top
  config = _config()
  if config.mode == "eval" and config.checkpoint_dir:
    waiting.say(config)


def run():
  cli.run(main,
          __doc__, [__name__, "mentornet_cli.flags_lib"],
          before_tensorflow=say_what_it_waits_for)


if __name__ == "__main__":
  run()
