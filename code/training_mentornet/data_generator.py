r"""Generates MentorNet training data: from a predefined v*, or from data.

Predefined curriculum (rows of the original grid labelled with v*):
  python code/training_mentornet/data_generator.py \
      --vstar_fn=vstar_self_paced --outdir=mentornet_data/self_paced

Data-driven, from a per-example loss dump (`id epoch noisy clean loss`):
  python code/training_mentornet/data_generator.py --vstar_fn=data_driven \
      --input_csv_filename=runs/nl_0.2.txt --outdir=mentornet_data/dd
"""

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
from mentornet import errors
from mentornet import config as config_lib
from mentornet_cli import flags_lib

flags_lib.define_from_config(config_lib.MentorNetDataConfig)


def main(argv):
  del argv
  from mentornet.learning import generate  # pylint: disable=g-import-not-at-top
  config = flags_lib.config_from_flags(config_lib.MentorNetDataConfig)
  if not config.outdir:
    raise errors.BadInput("--outdir is required")
  if config.vstar_fn == config_lib.tools.DATA_DRIVEN:
    if not config.input_csv_filename:
      raise errors.BadInput("--vstar_fn=data_driven needs --input_csv_filename")
    for d in generate.generate_data_driven(config.input_csv_filename,
                                           config.outdir,
                                           seed=config.seed):
      print(f"wrote {d}")
  else:
    train, test = generate.generate_predefined(config.vstar_fn, config.outdir,
                                               config.sample_size,
                                               config.vstar_gamma, config.seed)
    print(f"wrote {len(train)} training and {len(test)} test rows to "
          f"{config.outdir}")


def run():
  cli.run(main, __doc__, [__name__, "mentornet_cli.flags_lib"])


if __name__ == "__main__":
  run()
