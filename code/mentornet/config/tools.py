"""The configurations of the eval job, the data generator and the MentorNet
tools (`config.TrainConfig` is the training runs'); every field is a flag of
its script, declared once here (`settings.setting`).
"""

import dataclasses

from mentornet.config import settings
from mentornet.config.parts import ModelConfig

setting, section = settings.setting, settings.section

# What the eval job does (`--mode`).
EVAL_MODES = ("eval", "dump", "label_issues")
# How `--mode=label_issues` ranks (`--label_issues_rank_by`).
LABEL_ISSUE_RANKINGS = ("auto", "mean_weight", "mean_loss")


@dataclasses.dataclass(kw_only=True)
class EvalConfig:
  """Flags of cifar_eval.py; the model part is the training run's (from its
  record, which wins over the flags)."""
  model: ModelConfig = section(ModelConfig)
  checkpoint_dir: str = setting("", "The training run's train_log_dir.")
  data_dir: str = setting("", "Directory of the evaluation TFRecords.")
  eval_dir: str = setting(
      "", "Where summaries go (default: <checkpoint_dir>/eval).")
  dataset_name: str = setting("cifar10", "The dataset (cifar10, cifar100).")
  batch_size: int = setting(25, "The number of images in a batch.", low=1)
  split_name: str | None = setting(
      None, "The split's file prefix (default: test; train with "
      "--mode=dump).")
  eval_interval_secs: int = setting(
      600, "Least seconds between two rounds of evaluation (the first round, "
      "the final step's and those left by a gone trainer: at once).",
      low=0)
  output_csv_file: str = setting("",
                                 "Append step,accuracy,loss rows to this CSV.")
  max_number_of_steps: int = setting(
      0, "Stop after the checkpoint of this step (default: the run's own, "
      "from its train_config.json).",
      low=0)
  timeout_secs: int = setting(
      0, "Stop after this long without a new checkpoint (0: at the final "
      "step, or when the trainer has stopped).",
      low=0)
  trainer_wait_secs: int = setting(
      600, "Stop with an error when no trainer has held --checkpoint_dir "
      "for this long before its final step.",
      low=0)
  eval_once: bool = setting(False, "Evaluate the latest checkpoint, exit.")
  eval_all: bool = setting(
      False, "Evaluate every checkpoint on disk not yet in "
      "--output_csv_file, oldest first, then exit.")
  mode: str = setting(
      "eval", "eval: accuracy and loss of checkpoints; dump: per-example "
      "losses `id epoch noisy_label clean_label loss` of the latest "
      "checkpoint, for data-driven MentorNets; label_issues: every training "
      "example ranked by how likely its label is wrong (the curriculum's mean"
      " weight, the mean loss), from the latest checkpoint, into "
      "--label_issues_file.",
      choices=EVAL_MODES)
  label_issues_file: str = setting(
      "", "--mode=label_issues: the CSV to write (default: "
      "<checkpoint_dir>/label_issues.csv; the summary goes beside it).")
  label_issues_rank_by: str = setting(
      "auto", "--mode=label_issues: the order, most suspicious first: "
      "mean_weight (lowest first, ties by highest mean loss: the curriculum's"
      " verdict), mean_loss (highest first), auto (mean_weight for a run with"
      " a curriculum, else mean_loss).",
      choices=LABEL_ISSUE_RANKINGS)
  dump_file: str = setting("", "--mode=dump: the file to write.")
  dump_fraction: float = setting(
      0.1, "--mode=dump: fraction of the examples, a seeded subset (the "
      "'small clean subset').")
  dump_seed: int = setting(0, "--mode=dump: seed of the subset.")
  dump_epoch: int = setting(
      -1, "--mode=dump: the epoch column (default: the checkpoint's "
      "progress epoch).")

  @classmethod
  def from_flat(cls, **values):
    """From flat names (`checkpoint_dir`, `studentnet`, ...)."""
    return settings.from_flat(cls, values)

  def replace(self, **changes):
    """A copy with the settings named (flat names) changed."""
    return settings.replace(self, **changes)

  def with_split(self):
    """The config with `split_name` resolved (test, or train for a dump and
    label issues)."""
    return self.replace(split_name=self.split_name or
                        ("test" if self.mode == "eval" else "train"))


@dataclasses.dataclass(kw_only=True)
class PrepareConfig:
  """Flags of `prepare_noisy_cifar.py`."""
  dataset_name: str = setting("cifar10", "The dataset (cifar10, cifar100).")
  noise_fraction: float = setting(
      0.2, "Probability that a training label is corrupted.", low=0, high=1)
  noise_type: str = setting(
      "uniform", "uniform (the paper's), flip, pairflip or asymmetric.")
  seed: int = setting(0, "Seed of the label noise.")
  tfds_data_dir: str | None = setting(
      None, "A prepared tensorflow-datasets directory (default: TFDS's own, "
      "~/tensorflow_datasets, downloaded into on the first run when the "
      "machine is online).")
  output_dir: str = setting("data", "Root of the data directories.")
  overwrite: bool = setting(False, "Replace existing output directories.")
  max_train_examples: int = setting(
      0, "Keep only the first N training images (0: all).", low=0)
  max_test_examples: int = setting(
      0, "Keep only the first N test images (0: all).", low=0)


@dataclasses.dataclass(kw_only=True)
class MentorNetTrainConfig:
  """Flags of `training_mentornet/train.py`."""
  train_dir: str = setting("", "Where checkpoints are written.")
  data_path: str = setting("", "Directory holding tr.npz and ts.npz.")
  mini_batch_size: int = setting(32, "Rows per step.", low=1)
  max_step_train: float = setting(3e4, "Training steps.", low=1)
  learning_rate: float = setting(0.1, "Initial Adam learning rate.")
  seed: int = setting(0, "Seed of initialisation and shuffling.")
  allow_pickle: bool = setting(
      False, "Allow legacy tr.p/ts.p pickle files (loading a pickle runs "
      "the code it contains).")


# The predefined curricula `learning.vstar` defines (`VSTAR_FUNCTIONS`), and
# the data-driven one.
VSTAR_NAMES = ("vstar_baseline", "vstar_self_paced",
               "vstar_hard_example_mining", "vstar_focal_loss",
               "vstar_spcl_linear", "vstar_mentornet_pd")
DATA_DRIVEN = "data_driven"


@dataclasses.dataclass(kw_only=True)
class MentorNetDataConfig:
  """Flags of `training_mentornet/data_generator.py`."""
  outdir: str = setting("", "Where to write tr.npz and ts.npz.")
  vstar_fn: str = setting(
      "vstar_self_paced",
      f"One of {', '.join(sorted(VSTAR_NAMES))}, or {DATA_DRIVEN}.")
  vstar_gamma: float | None = setting(
      None, "gamma of focal loss (default 2) and SPCL linear / PD "
      "(default 1).")
  sample_size: int = setting(100000,
                             "Rows kept from the predefined grid.",
                             low=1)
  input_csv_filename: str = setting("",
                                    f"Loss dump for --vstar_fn={DATA_DRIVEN}.")
  seed: int = setting(0, "Seed of the sampling and the 80/20 split.")


@dataclasses.dataclass(kw_only=True)
class MentorNetEvalConfig:
  """Flags of `training_mentornet/evaluate.py`."""
  model_dir: str = setting("", "MentorNet checkpoint directory or prefix.")
  vstar_fn: str = setting("", "The predefined v* it was trained on.")
  vstar_gamma: float | None = setting(None, "gamma given to the v* function.")
  data_path: str = setting("", "Directory holding ts.npz (optional).")
  num_points: int = setting(20000, "Fresh grid points for the MSE.", low=1)
  readme_commands: str = setting(
      "", "If set: write README.md beside the model, giving these "
      "commands (';'-separated) and the figures.")
  readme_note: str = setting(
      "", "Extra paragraph for README.md (e.g. how the data were made).")


@dataclasses.dataclass(kw_only=True)
class MentorNetPictureConfig:
  """Flags of `training_mentornet/visualizer.py`."""
  model_dir: str = setting("", "MentorNet checkpoint directory or prefix.")
  loss_bound: float = setting(15.0, "Losses drawn in [0, loss_bound).")
  epoch_ranges: str = setting("0,10,20,30,40,50,60,70,80,90,99",
                              "Comma-separated epochs in [0, 99] to draw.")
  output_dir: str = setting(
      "", "Where to write the pictures (default: --model_dir).")
  write_into_shipped_models: bool = setting(
      False, "Allow writing into the shipped mentornet_models/ folder "
      "(commands/training_mentornet_command.sh remakes it).")


@dataclasses.dataclass(kw_only=True)
class PlotConfig:
  """Flags of `plot_runs.py` (`mentornet_plot`); the runs are its
  arguments."""
  output: str = setting("runs/compared.png", "The PNG to write.")
  eval_csv_name: str = setting(
      "eval.csv", "Each run's evaluation CSV, in its directory (cifar_eval.py "
      "--output_csv_file).")
  title: str = setting("", "The picture's title (default: the runs' names).")
