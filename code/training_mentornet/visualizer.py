r"""Draws a MentorNet's curriculum: one 3-D scatter per epoch and a GIF.

  python code/training_mentornet/visualizer.py \
      --model_dir=mentornet_models/models/mentornet_pd1_g_1/mentornet_pd
"""


from absl import flags

from mentornet import cli
from mentornet import mentor
from mentornet import visualize

flags.DEFINE_string("model_dir", "", "MentorNet checkpoint directory or prefix.")
flags.DEFINE_float("loss_bound", 15, "Losses drawn in [0, loss_bound).")
flags.DEFINE_string("epoch_ranges", "0,10,20,30,40,50,60,70,80,90,99",
                    "Comma-separated epochs in [0, 99] to draw.")
flags.DEFINE_string("output_dir", "",
                    "Where to write the pictures (default: --model_dir).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  try:
    if not FLAGS.model_dir:
      raise ValueError("--model_dir is required")
    if not 0 < FLAGS.loss_bound < float("inf"):
      raise ValueError(f"--loss_bound={FLAGS.loss_bound} must be a positive "
                       "number")
    epochs = visualize.parse_epochs(FLAGS.epoch_ranges)
    net = mentor.load_mentornet(FLAGS.model_dir)
    output_dir = FLAGS.output_dir or mentor.checkpoint_dir(FLAGS.model_dir)
    pngs, gif = visualize.visualize(net, output_dir, epochs, FLAGS.loss_bound)
  except (ValueError, FileNotFoundError) as e:
    cli.fail("visualizer.py", e)
  print(f"wrote {len(pngs)} frames and {gif}")


def run():
  cli.run(main, __doc__, [__name__])


if __name__ == "__main__":
  run()
