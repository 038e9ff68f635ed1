"""Helpers several test files share (not tests themselves)."""

import pathlib

from mentornet import config

REPO = pathlib.Path(__file__).resolve().parents[1]
DEMO = "data/demo/cifar10/0.4"
VAL = "data/demo/cifar10/val"
PD = "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd"


def train_config(tmp_path, **kwargs):
  """A small CifarNet run on the demo data in `tmp_path/run`: batch 16,
  summaries at every step, a progress line every 100; a MentorNet run gets
  the shipped PD curriculum unless told otherwise."""
  base = dict(train_log_dir=str(tmp_path / "run"),
              data_dir=str(REPO / DEMO),
              studentnet="inception",
              batch_size=16,
              log_every_n_steps=100,
              save_summaries_secs=0)
  base.update(kwargs)
  if base.get("use_mentornet"):
    base.setdefault("trained_mentornet_dir", str(REPO / PD))
  return config.TrainConfig.from_flat(**base)
