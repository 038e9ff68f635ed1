"""Learning MentorNets: data generation, training, shipped curricula, pictures."""

import os
import re
import pickle
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mentornet.config import MentorNetTrainConfig
from mentornet.evaluation import loss_dump
from mentornet.learning import fit
from mentornet.learning import generate
from mentornet.learning import visualize
from mentornet.learning import vstar
from mentornet.models import mentor

SHIPPED = {
    "baseline/baseline_mentornet":
        "vstar_baseline",
    "self_paced/self_paced_mentornet":
        "vstar_self_paced",
    "hard_example_mining/hard_example_mining_mentornet":
        "vstar_hard_example_mining",
    "focal_loss/focal_loss_mentornet":
        "vstar_focal_loss",
    "spcl_linear/spcl_linear_mentornet":
        "vstar_spcl_linear",
    "mentornet_pd1_g_1/mentornet_pd":
        "vstar_mentornet_pd",
}


def test_predefined_grid():
  grid = generate.predefined_grid()
  assert grid.shape == (120 * 100 * 100, 4)
  losses = np.unique(grid[:, 0])
  assert len(losses) == 120 and losses[99] == pytest.approx(9.9)
  assert losses[100] == 10 and losses[-1] == 29
  diffs = np.unique(grid[:, 1])
  assert len(diffs) == 100 and diffs[0] == -5.0 and diffs[-1] == pytest.approx(
      4.9)
  assert set(grid[:, 2]) == {0} and set(grid[:, 3]) == set(range(100))
  # np.arange(-5, 5, 0.1), as the original: the point meant as 0 is -1.78e-14
  assert diffs[50] == pytest.approx(-1.7763568394002505e-14, abs=1e-20)
  assert np.count_nonzero(diffs == 0) == 0
  assert np.unique(grid[:, 0])[3] == 0.30000000000000004  # 3 * 0.1


def test_hard_example_mining_gives_zero_at_the_grid_point_zero():
  grid = generate.predefined_grid()
  diffs = np.unique(grid[:, 1])
  rows = np.array([[1.0, diffs[50], 0.0, 5.0], [1.0, diffs[51], 0.0, 5.0]])
  assert list(vstar.vstar_hard_example_mining(rows)) == [0.0, 1.0]


@pytest.mark.parametrize("targets,binary", [([0, 1, 1, 0], True),
                                            ([1, 1, 1], False), ([0, 0], False),
                                            ([0, 0.5, 1], False),
                                            ([0.2, 0.7], False)])
def test_is_binary_as_the_original_reader(targets, binary):
  assert fit.is_binary(np.asarray(targets, np.float32)) == binary


@pytest.mark.parametrize("path,vstar_fn", sorted(SHIPPED.items()))
def test_shipped_curricula_imitate_their_vstar(repo, path, vstar_fn):
  net = mentor.load_mentornet(str(repo / "mentornet_models" / "models" / path))
  mse, _ = fit.grid_mse(net, vstar_fn, num_points=20000, seed=7)
  assert mse <= 0.01
  assert (
      repo / "images" /
      f"{path.split('/')[0].replace('mentornet_pd1_g_1', 'mentornet_pd')}.gif"
  ).exists()


def test_generate_predefined_writes_npz_with_vstar(tmp_path):
  train, test = generate.generate_predefined("vstar_focal_loss",
                                             str(tmp_path),
                                             sample_size=1000,
                                             gamma=1.0,
                                             seed=3)
  assert train.shape == (800, 5) and test.shape == (200, 5)
  np.testing.assert_allclose(train[:, 4], 1 - np.exp(-train[:, 0]), rtol=1e-5)
  tr, ts = generate.load_split(str(tmp_path))
  np.testing.assert_array_equal(tr, train)
  np.testing.assert_array_equal(ts, test)


def write_dump(path, n=400, sep=" ", header=False, seed=0):
  rng = np.random.default_rng(seed)
  clean = rng.integers(0, 10, n)
  noisy = np.where(rng.random(n) < 0.4, rng.integers(0, 10, n), clean)
  # corrupted examples have larger losses
  loss = np.where(noisy == clean, rng.uniform(0, 1, n), rng.uniform(1.5, 4, n))
  with open(path, "w") as f:
    if header:
      f.write(
          sep.join(["id", "epoch", "noisy_label", "clean_label", "loss"]) +
          "\n")
    for i in range(n):
      f.write(
          sep.join(
              [str(i), "18",
               str(noisy[i]),
               str(clean[i]), f"{loss[i]:.5f}"]) + "\n")
  return noisy, clean, loss


def test_data_driven_end_to_end(tmp_path):
  dump = tmp_path / "nl_0.2.csv"
  noisy, clean, loss = write_dump(dump)
  dirs = generate.generate_data_driven(str(dump), str(tmp_path / "dd"))
  assert [os.path.basename(d) for d in dirs
         ] == [f"nl_0.2_percentile_{p}" for p in (40, 50, 60, 75, 80, 90)]
  train, test = generate.load_split(dirs[-1])
  rows = np.concatenate([train, test])
  assert len(train) == 320 and len(test) == 80
  order = np.argsort(rows[:, 0])
  loss = np.round(loss, 5)  # the dump keeps 5 decimals
  np.testing.assert_allclose(rows[order, 0], np.sort(loss), atol=1e-6)
  np.testing.assert_allclose(rows[:, 1],
                             rows[:, 0] - np.percentile(loss, 90),
                             atol=1e-5)
  assert set(rows[:, 2]) == {0} and set(rows[:, 3]) == {18}
  assert rows[:, 4].sum() == np.sum(noisy == clean)
  metrics = fit.train_mentornet(
      MentorNetTrainConfig(train_dir=str(tmp_path / "model"),
                           data_path=dirs[-1],
                           max_step_train=300))
  assert metrics["accuracy"] > 0.9  # losses separate clean from corrupted
  net = mentor.load_mentornet(str(tmp_path / "model"))
  assert net(test[:, :4]).shape == (80, 1)


def test_loss_dump_formats_agree(tmp_path):
  write_dump(tmp_path / "a.txt")
  write_dump(tmp_path / "b.csv", sep=",", header=True)
  write_dump(tmp_path / "c.csv", sep=",")
  a, b, c = (loss_dump.read_loss_dump(str(tmp_path / n))
             for n in ("a.txt", "b.csv", "c.csv"))
  np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("line,message", [
    ("3 18 1 1\n", "a.txt:2: expected 5 fields"),
    ("3 18 one 1 0.5\n", "a.txt:2: non-numeric field"),
])
def test_malformed_dump_line(tmp_path, line, message):
  (tmp_path / "a.txt").write_text("0 18 1 1 0.25\n" + line)
  with pytest.raises(ValueError, match=message):
    loss_dump.read_loss_dump(str(tmp_path / "a.txt"))


@pytest.mark.slow
def test_training_resumes_and_stops_at_max_steps(tmp_path):
  generate.generate_predefined("vstar_self_paced",
                               str(tmp_path / "d"),
                               sample_size=2000)
  config = MentorNetTrainConfig(train_dir=str(tmp_path / "m"),
                                data_path=str(tmp_path / "d"),
                                max_step_train=70)
  fit.train_mentornet(config)
  assert mentor.resolve_checkpoint(str(tmp_path / "m")).endswith("mentornet-70")
  config.max_step_train = 120
  fit.train_mentornet(config)
  assert mentor.resolve_checkpoint(str(tmp_path /
                                       "m")).endswith("mentornet-120")


def test_pickle_needs_allow_pickle(tmp_path):
  rows = np.random.default_rng(0).random((50, 5)).astype(np.float32)
  for name in ("tr.p", "ts.p"):
    with open(tmp_path / name, "wb") as f:
      pickle.dump({"data": rows}, f)
  with pytest.raises(ValueError, match="is a pickle file; .*--allow_pickle"):
    generate.load_split(str(tmp_path))
  tr, _ = generate.load_split(str(tmp_path), allow_pickle=True)
  np.testing.assert_array_equal(tr, rows)


@pytest.mark.slow
def test_visualizer_writes_pngs_and_looping_gif(tmp_path):
  net = mentor.MentorNet(seed=0)
  pngs, gif = visualize.visualize(net,
                                  str(tmp_path), [0, 18, 90, 99],
                                  loss_bound=15)
  assert [os.path.basename(p) for p in pngs
         ] == ["epoch_0.png", "epoch_18.png", "epoch_90.png", "epoch_99.png"]
  assert all(Image.open(p).format == "PNG" for p in pngs)
  with Image.open(gif) as im:
    assert im.n_frames == 4
    assert im.info["loop"] == 0 and im.info["duration"] == 500


def test_visualizer_points():
  points = visualize.curriculum_points(7, 15)
  assert points.shape == (3000, 4)
  assert points[:, 0].min() >= 0 and points[:, 0].max() < 15
  assert points[0, 1] == -15 and points[-1, 1] < 15
  np.testing.assert_allclose(np.diff(points[:, 1]), 0.01, atol=1e-5)
  assert set(points[:, 3]) == {7}
  with pytest.raises(ValueError, match="epochs in \\[0, 99\\]"):
    visualize.parse_epochs("0,100")


def run_script(repo, name, *args):
  return subprocess.run(
      [sys.executable,
       str(repo / "code" / "training_mentornet" / name), *args],
      capture_output=True,
      text=True,
      check=False)


@pytest.mark.slow
def test_scripts_end_to_end_and_errors(repo, tmp_path):
  data, model = tmp_path / "data", tmp_path / "model"
  proc = run_script(repo, "data_generator.py", "--vstar_fn=vstar_nope",
                    f"--outdir={data}")
  assert proc.returncode != 0
  assert proc.stderr.strip().splitlines()[-1].startswith(
      "data_generator.py: error: unknown vstar_fn 'vstar_nope'")
  assert not data.exists()
  proc = run_script(repo, "data_generator.py", "--vstar_fn=vstar_spcl_linear",
                    "--vstar_gamma=2", "--sample_size=3000", f"--outdir={data}")
  assert proc.returncode == 0, proc.stderr
  rows = np.load(data / "tr.npz")["data"]
  np.testing.assert_allclose(rows[:, 4],
                             np.clip(1 - rows[:, 1] / 2, 0, 1),
                             atol=1e-6)
  proc = run_script(repo, "train.py", f"--data_path={data}",
                    f"--train_dir={model}", "--max_step_train=200")
  assert proc.returncode == 0, proc.stderr
  assert "step 200/200" in proc.stderr and "steps/s" in proc.stderr
  proc = run_script(repo, "visualizer.py", f"--model_dir={model}",
                    "--epoch_ranges=0,99")
  assert proc.returncode == 0, proc.stderr
  assert (model / "epoch_99.png").exists() and (model / "plot.gif").exists()


def test_shipped_dd_curriculum_weighs_low_losses_up(repo):
  net = mentor.load_mentornet(
      str(repo / "mentornet_models/models/nl_0.2_percentile_90/mentornet_dd"))
  assert (repo / "images" / "mentornet_dd.gif").exists()
  readme = (repo / "mentornet_models/models/nl_0.2_percentile_90/mentornet_dd" /
            "README.md").read_text()
  accuracy = float(
      re.search(r"accuracy \(weight > 0.5 vs v\* > 0.5\) "
                r"([0-9]+\.[0-9]+)", readme).group(1))
  clean = float(
      re.search(r"; ([0-9.]+) of the held-out rows are clean", readme).group(1))
  assert accuracy > clean + 0.05  # it tells clean from corrupted
  # At the burn-in epoch: an example well below the loss percentile is kept,
  # one far above it (a likely corrupted label) is dropped.
  rows = np.array([[0.05, -1.5, 0, 18], [6.0, 4.5, 0, 18]], np.float32)
  low, high = net.weights(rows).numpy()
  assert low > 0.5 > high
