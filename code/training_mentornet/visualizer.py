r"""Draws a MentorNet's curriculum: one 3-D scatter per epoch and a GIF.

  python code/training_mentornet/visualizer.py \
      --model_dir=mentornet_models/models/mentornet_pd1_g_1/mentornet_pd \
      --output_dir=runs/pictures/mentornet_pd

The pictures go beside the MentorNet unless --output_dir says otherwise; a
shipped curriculum's folder (mentornet_models/) is only written into with
--write_into_shipped_models.
"""

import os

from absl import flags

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up

flags.DEFINE_string("model_dir", "",
                    "MentorNet checkpoint directory or prefix.")
flags.DEFINE_float("loss_bound", 15, "Losses drawn in [0, loss_bound).")
flags.DEFINE_string("epoch_ranges", "0,10,20,30,40,50,60,70,80,90,99",
                    "Comma-separated epochs in [0, 99] to draw.")
flags.DEFINE_string("output_dir", "",
                    "Where to write the pictures (default: --model_dir).")
flags.DEFINE_bool(
    "write_into_shipped_models", False,
    "Allow writing into the shipped mentornet_models/ folder "
    "(commands/training_mentornet_command.sh remakes it).")
SHIPPED = "mentornet_models"
FLAGS = flags.FLAGS


def main(argv):
  del argv
  # pylint: disable=g-import-not-at-top
  from mentornet.learning import visualize
  from mentornet.models import mentor
  if not FLAGS.model_dir:
    raise ValueError("--model_dir is required")
  if not 0 < FLAGS.loss_bound < float("inf"):
    raise ValueError(f"--loss_bound={FLAGS.loss_bound} must be a positive "
                     "number")
  epochs = visualize.parse_epochs(FLAGS.epoch_ranges)
  net = mentor.load_mentornet(FLAGS.model_dir)
  output_dir = FLAGS.output_dir or mentor.checkpoint_dir(FLAGS.model_dir)
  if (SHIPPED in os.path.abspath(output_dir).split(os.sep) and
      not FLAGS.write_into_shipped_models):
    raise ValueError(f"{output_dir} is inside the shipped {SHIPPED}/; give "
                     "--output_dir (e.g. runs/pictures/<name>), or "
                     "--write_into_shipped_models to remake its pictures")
  pngs, gif = visualize.visualize(net, output_dir, epochs, FLAGS.loss_bound)
  print(f"wrote {len(pngs)} frames and {gif}")


def run():
  cli.run(main, __doc__, [__name__])


if __name__ == "__main__":
  run()
