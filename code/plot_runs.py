r"""Draws training runs on shared axes: test accuracy per checkpoint (each run's
eval.csv), and the clean labels' share of the weight, the training loss and
the learning rate over training (its TensorBoard summaries).

  python code/plot_runs.py runs/quickstart_baseline runs/quickstart_pd \
      --output=runs/quickstart.png

Each run is labelled by its directory's name. A run without an eval.csv or
without summaries is drawn with what it has, and one line says what is
missing.
"""

from mentornet_cli import cli  # first: it quiets TensorFlow's start-up
from mentornet import config as config_lib
from mentornet import errors
from mentornet_cli import flags_lib

flags_lib.define_from_config(config_lib.PlotConfig)


def main(argv):
  # pylint: disable=g-import-not-at-top
  from absl import logging
  from mentornet.evaluation import compare
  config = flags_lib.config_from_flags(config_lib.PlotConfig)
  run_dirs = argv[1:]
  if not run_dirs:
    raise errors.BadInput("name one or more run directories: plot_runs.py "
                          "RUN_DIR [RUN_DIR ...] --output=x.png")
  if not config.output.endswith(".png"):
    raise errors.BadInput(f"--output={config.output} must name a .png file")
  runs = [compare.read_run(d, config.eval_csv_name) for d in run_dirs]
  for run, run_dir in zip(runs, run_dirs):
    if run.missing:
      logging.warning("%s: %s; drawn with what it has", run_dir,
                      "; ".join(run.missing))
  path = compare.draw(runs, config.output, config.title or None)
  finals = [
      f"{r.label} {r.accuracy[-1][1]:.4f} (step {r.accuracy[-1][0]})"
      for r in runs
      if r.accuracy
  ]
  print(f"drew {len(runs)} run(s) in {path}" +
        (f"; test accuracy at the last checkpoint: {', '.join(finals)}"
         if finals else ""))


def run():
  cli.run(main, __doc__, [__name__, "mentornet_cli.flags_lib"])


if __name__ == "__main__":
  run()
