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
"""

from absl import flags

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
from mentornet import config as config_lib
from mentornet_cli import flags_lib

flags.DEFINE_string("checkpoint_dir", "", "The training run's train_log_dir.")
flags.DEFINE_string("eval_dir", "",
                    "Where summaries go (default: <checkpoint_dir>/eval).")
flags.DEFINE_integer("eval_interval_secs", 600,
                     "Least seconds between two evaluations.")
flags.DEFINE_string(
    "split_name", None, "The split's file prefix (default: test; train with "
    "--mode=dump).")
flags.DEFINE_string("output_csv_file", "",
                    "Append step,accuracy,loss rows to this CSV.")
flags.DEFINE_integer(
    "max_number_of_steps", 0,
    "Stop after the checkpoint of this step (default: the "
    "run's own, from its train_config.json).")
flags.DEFINE_integer(
    "timeout_secs", 0, "Stop after this long without a new checkpoint (0: at "
    "the final step, or when the trainer has stopped).")
flags.DEFINE_integer(
    "trainer_wait_secs", 600, "Stop with an error when no trainer has held "
    "--checkpoint_dir for this long before its final step.")
flags.DEFINE_bool("eval_once", False, "Evaluate the latest checkpoint, exit.")
flags.DEFINE_bool(
    "eval_all", False, "Evaluate every checkpoint on disk not yet in "
    "--output_csv_file, oldest first, then exit.")
flags.DEFINE_enum(
    "mode", "eval", ["eval", "dump"],
    "eval: accuracy and loss of checkpoints; dump: per-example "
    "losses `id epoch noisy_label clean_label loss` of the "
    "latest checkpoint, for data-driven MentorNets.")
flags.DEFINE_string("dump_file", "", "--mode=dump: the file to write.")
flags.DEFINE_float(
    "dump_fraction", 0.1,
    "--mode=dump: fraction of the examples, a seeded subset "
    "(the 'small clean subset').")
flags.DEFINE_integer("dump_seed", 0, "--mode=dump: seed of the subset.")
flags.DEFINE_integer(
    "dump_epoch", -1, "--mode=dump: the epoch column (default: the "
    "checkpoint's progress epoch).")
FLAGS = flags.FLAGS
flags_lib.define_model_flags(25, "Directory of the evaluation TFRecords.")


def main(argv):
  del argv
  # pylint: disable=g-import-not-at-top
  from mentornet.evaluation import evaluate
  from mentornet.evaluation import loss_dump
  config = flags_lib.config_from_flags(config_lib.EvalConfig,
                                       keep_defaults=("ema_decay",))
  if config.mode == "dump":
    loss_dump.run(config)
    return
  results = evaluate.run(config)
  if results:
    step = max(results)
    print(f"step {step}: test accuracy {results[step][0]:.4f}, "
          f"loss {results[step][1]:.4f}")


def run():
  cli.run(main, __doc__, [__name__, "mentornet_cli.flags_lib"])


if __name__ == "__main__":
  run()
