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

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
from mentornet import config as config_lib
from mentornet_cli import flags_lib

flags_lib.define_from_config(config_lib.MentorNetEvalConfig)


def main(argv):
  del argv
  # pylint: disable=g-import-not-at-top
  from mentornet.learning import fit
  from mentornet.learning import generate
  from mentornet.models import mentor
  config = flags_lib.config_from_flags(config_lib.MentorNetEvalConfig)
  net = mentor.load_mentornet(config.model_dir)
  result = {"model_dir": config.model_dir}
  if config.data_path:
    _, test = generate.load_split(config.data_path)
    result["test_rows"] = fit.evaluate(net, test, fit.is_binary(test[:, 4]))
  if config.vstar_fn and config.vstar_fn != config_lib.tools.DATA_DRIVEN:
    mse, max_err = fit.grid_mse(net, config.vstar_fn, config.vstar_gamma,
                                config.num_points)
    result["grid_mse"], result["grid_max_abs_error"] = mse, max_err
  print(json.dumps(result, indent=1))
  if config.readme_commands:
    write_readme(config, result)


def write_readme(config, result):
  """Writes the model's README.md: how it was made and how well it fits."""
  from mentornet.models import mentor  # pylint: disable=g-import-not-at-top
  directory = mentor.checkpoint_dir(config.model_dir)
  commands = "\n".join(c.strip() for c in config.readme_commands.split(";"))
  what = ("Data-driven MentorNet: v* is 1 for examples whose noisy label is "
          "right, 0 otherwise"
          if config.vstar_fn == config_lib.tools.DATA_DRIVEN else
          f"MentorNet trained to imitate `{config.vstar_fn}`")
  lines = [
      f"# {os.path.basename(os.path.normpath(directory))}", "",
      f"{what}. Made by:", "", "```bash", commands, "```", ""
  ]
  if config.readme_note:
    lines += [config.readme_note, ""]
  if "test_rows" in result:
    t = result["test_rows"]
    lines.append(f"Held-out test rows: loss {t['loss']:.6f}, MSE of the "
                 f"weights {t['mse']:.6f}, accuracy (weight > 0.5 vs v* > 0.5)"
                 f" {t['accuracy']:.4f}.")
    if config.vstar_fn == config_lib.tools.DATA_DRIVEN:
      lines.append(f"That accuracy is the rate at which it tells clean from "
                   f"corrupted examples; {t['clean_fraction']:.4f} of the "
                   "held-out rows are clean (the accuracy of calling every "
                   "example clean).")
  if "grid_mse" in result:
    lines.append(f"On {config.num_points:,} fresh random points of the data "
                 f"generator's grid: MSE against v* {result['grid_mse']:.6f}, "
                 f"largest absolute error {result['grid_max_abs_error']:.4f}.")
  with open(os.path.join(directory, "README.md"), "w") as f:
    f.write("\n".join(lines) + "\n")


def run():
  cli.run(main, __doc__, [__name__, "mentornet_cli.flags_lib"])


if __name__ == "__main__":
  run()
