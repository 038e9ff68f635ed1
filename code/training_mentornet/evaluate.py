r"""Measures how well a trained MentorNet imitates its curriculum.

  python code/training_mentornet/evaluate.py \
      --model_dir=mentornet_models/models/self_paced/self_paced_mentornet \
      --vstar_fn=vstar_self_paced --data_path=mentornet_data/self_paced

prints the metrics on the test rows of --data_path (if given) and, for a
predefined --vstar_fn, the mean squared error between the MentorNet's weights
and v* on 20,000 fresh random points of the data generator's grid.
"""

import json
import os

from absl import flags

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up

flags.DEFINE_string("model_dir", "",
                    "MentorNet checkpoint directory or prefix.")
flags.DEFINE_string("vstar_fn", "", "The predefined v* it was trained on.")
flags.DEFINE_float("vstar_gamma", None, "gamma given to the v* function.")
flags.DEFINE_string("data_path", "", "Directory holding ts.npz (optional).")
flags.DEFINE_integer("num_points", 20000, "Fresh grid points for the MSE.")
flags.DEFINE_string(
    "readme_commands", "",
    "If set: write README.md beside the model, giving these "
    "commands (';'-separated) and the figures.")
flags.DEFINE_string(
    "readme_note", "", "Extra paragraph for README.md (e.g. how the data were "
    "made).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  # pylint: disable=g-import-not-at-top
  from mentornet.learning import fit
  from mentornet.learning import generate
  from mentornet.models import mentor
  net = mentor.load_mentornet(FLAGS.model_dir)
  result = {"model_dir": FLAGS.model_dir}
  if FLAGS.data_path:
    _, test = generate.load_split(FLAGS.data_path)
    result["test_rows"] = fit.evaluate(net, test, fit.is_binary(test[:, 4]))
  if FLAGS.vstar_fn and FLAGS.vstar_fn != "data_driven":
    mse, max_err = fit.grid_mse(net, FLAGS.vstar_fn, FLAGS.vstar_gamma,
                                FLAGS.num_points)
    result["grid_mse"], result["grid_max_abs_error"] = mse, max_err
  print(json.dumps(result, indent=1))
  if FLAGS.readme_commands:
    write_readme(result)


def write_readme(result):
  """Writes the model's README.md: how it was made and how well it fits."""
  from mentornet.models import mentor  # pylint: disable=g-import-not-at-top
  directory = mentor.checkpoint_dir(FLAGS.model_dir)
  commands = "\n".join(c.strip() for c in FLAGS.readme_commands.split(";"))
  what = ("Data-driven MentorNet: v* is 1 for examples whose noisy label is "
          "right, 0 otherwise" if FLAGS.vstar_fn == "data_driven" else
          f"MentorNet trained to imitate `{FLAGS.vstar_fn}`")
  lines = [
      f"# {os.path.basename(os.path.normpath(directory))}", "",
      f"{what}. Made by:", "", "```bash", commands, "```", ""
  ]
  if FLAGS.readme_note:
    lines += [FLAGS.readme_note, ""]
  if "test_rows" in result:
    t = result["test_rows"]
    lines.append(f"Held-out test rows: loss {t['loss']:.6f}, MSE of the "
                 f"weights {t['mse']:.6f}, accuracy (weight > 0.5 vs v* > 0.5)"
                 f" {t['accuracy']:.4f}.")
    if FLAGS.vstar_fn == "data_driven":
      lines.append(f"That accuracy is the rate at which it tells clean from "
                   f"corrupted examples; {t['clean_fraction']:.4f} of the "
                   "held-out rows are clean (the accuracy of calling every "
                   "example clean).")
  if "grid_mse" in result:
    lines.append(f"On {FLAGS.num_points:,} fresh random points of the data "
                 f"generator's grid: MSE against v* {result['grid_mse']:.6f}, "
                 f"largest absolute error {result['grid_max_abs_error']:.4f}.")
  with open(os.path.join(directory, "README.md"), "w") as f:
    f.write("\n".join(lines) + "\n")


def run():
  cli.run(main, __doc__, [__name__])


if __name__ == "__main__":
  run()
