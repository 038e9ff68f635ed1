r"""Generates MentorNet training data: from a predefined v*, or from data.

Predefined curriculum (rows of the original grid labelled with v*):
  python code/training_mentornet/data_generator.py \
      --vstar_fn=vstar_self_paced --outdir=mentornet_data/self_paced

Data-driven, from a per-example loss dump (`id epoch noisy clean loss`):
  python code/training_mentornet/data_generator.py --vstar_fn=data_driven \
      --input_csv_filename=runs/nl_0.2.txt --outdir=mentornet_data/dd
"""

from absl import flags

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
from mentornet.learning import vstar

flags.DEFINE_string("outdir", "", "Where to write tr.npz and ts.npz.")
flags.DEFINE_string(
    "vstar_fn", "vstar_self_paced",
    "One of " + ", ".join(sorted(vstar.VSTAR_FUNCTIONS)) + ", or data_driven.")
flags.DEFINE_float(
    "vstar_gamma", None, "gamma of focal loss (default 2) and SPCL linear / PD "
    "(default 1).")
flags.DEFINE_integer("sample_size", 100000,
                     "Rows kept from the predefined grid.")
flags.DEFINE_string("input_csv_filename", "",
                    "Loss dump for --vstar_fn=data_driven.")
flags.DEFINE_integer("seed", 0, "Seed of the sampling and the 80/20 split.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from mentornet.learning import generate  # pylint: disable=g-import-not-at-top
  if not FLAGS.outdir:
    raise ValueError("--outdir is required")
  if FLAGS.vstar_fn == "data_driven":
    if not FLAGS.input_csv_filename:
      raise ValueError("--vstar_fn=data_driven needs --input_csv_filename")
    for d in generate.generate_data_driven(FLAGS.input_csv_filename,
                                           FLAGS.outdir,
                                           seed=FLAGS.seed):
      print(f"wrote {d}")
  else:
    train, test = generate.generate_predefined(FLAGS.vstar_fn, FLAGS.outdir,
                                               FLAGS.sample_size,
                                               FLAGS.vstar_gamma, FLAGS.seed)
    print(f"wrote {len(train)} training and {len(test)} test rows to "
          f"{FLAGS.outdir}")


def run():
  cli.run(main, __doc__, [__name__])


if __name__ == "__main__":
  run()
