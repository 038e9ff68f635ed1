"""The configurations of the evaluation job, the data generator and the
MentorNet trainer (`config.py` holds the training runs'); every field is a
flag of its script, declared once here (`settings.setting`).
"""

import dataclasses

from mentornet.settings import setting


@dataclasses.dataclass(kw_only=True)
class EvalConfig:
  """Flags of cifar_eval.py."""
  checkpoint_dir: str = setting("", "The training run's train_log_dir.")
  data_dir: str = setting("", "Directory of the evaluation TFRecords.")
  eval_dir: str = setting(
      "", "Where summaries go (default: <checkpoint_dir>/eval).")
  dataset_name: str = setting("cifar10", "The dataset (cifar10, cifar100).")
  studentnet: str = setting(
      "resnet101", "The StudentNet (the run's own, from its record, wins).")
  batch_size: int = setting(25, "The number of images in a batch.", low=1)
  split_name: str | None = setting(
      None, "The split's file prefix (default: test; train with "
      "--mode=dump).")
  eval_interval_secs: int = setting(600,
                                    "Least seconds between two evaluations.",
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
      "checkpoint, for data-driven MentorNets.",
      choices=("eval", "dump"))
  dump_file: str = setting("", "--mode=dump: the file to write.")
  dump_fraction: float = setting(
      0.1, "--mode=dump: fraction of the examples, a seeded subset (the "
      "'small clean subset').")
  dump_seed: int = setting(0, "--mode=dump: seed of the subset.")
  dump_epoch: int = setting(
      -1, "--mode=dump: the epoch column (default: the checkpoint's "
      "progress epoch).")
  num_residual_units: int = setting(9, "resnet101: units per stage.", low=1)
  resnet_widths: tuple = setting((160, 320, 640),
                                 "resnet101: the three stage widths.")
  ema_decay: float = setting(0.0,
                             "From the run's record: score averaged weights.",
                             flag=False)

  def with_split(self):
    """The config with `split_name` resolved (test, or train for a dump)."""
    return dataclasses.replace(self,
                               split_name=self.split_name or
                               ("train" if self.mode == "dump" else "test"))


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
