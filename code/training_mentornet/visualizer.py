r"""Draws a MentorNet's curriculum: one 3-D scatter per epoch and a GIF.

  python code/training_mentornet/visualizer.py \
      --model_dir=mentornet_models/models/mentornet_pd1_g_1/mentornet_pd \
      --output_dir=runs/pictures/mentornet_pd

The pictures go beside the MentorNet unless --output_dir says otherwise; a
shipped curriculum's folder (mentornet_models/) is only written into with
--write_into_shipped_models.
"""

import os

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
from mentornet import errors
from mentornet import config as config_lib
from mentornet_cli import flags_lib

flags_lib.define_from_config(config_lib.MentorNetPictureConfig)
SHIPPED = "mentornet_models"


def main(argv):
  del argv
  # pylint: disable=g-import-not-at-top
  from mentornet.learning import visualize
  from mentornet.models import mentor
  config = flags_lib.config_from_flags(config_lib.MentorNetPictureConfig)
  if not config.model_dir:
    raise errors.BadInput("--model_dir is required")
  if not 0 < config.loss_bound < float("inf"):
    raise errors.BadInput(
        f"--loss_bound={config.loss_bound} must be a positive "
        "number")
  epochs = visualize.parse_epochs(config.epoch_ranges)
  net = mentor.load_mentornet(config.model_dir)
  output_dir = config.output_dir or mentor.checkpoint_dir(config.model_dir)
  if (SHIPPED in os.path.abspath(output_dir).split(os.sep) and
      not config.write_into_shipped_models):
    raise errors.BadInput(
        f"{output_dir} is inside the shipped {SHIPPED}/; give "
        "--output_dir (e.g. runs/pictures/<name>), or "
        "--write_into_shipped_models to remake its pictures")
  pngs, gif = visualize.visualize(net, output_dir, epochs, config.loss_bound)
  print(f"wrote {len(pngs)} frames and {gif}")


def run():
  cli.run(main, __doc__, [__name__, "mentornet_cli.flags_lib"])


if __name__ == "__main__":
  run()
