"""Curriculum pictures: the weight MentorNet gives over (loss_diff, loss), per epoch.

For each epoch, 3,000 points with loss uniform in [0, loss_bound), loss_diff
evenly spaced over [-loss_bound, loss_bound) and label 0 are weighted by the
MentorNet and drawn as a 3-D scatter saved as `epoch_<t>.png`; all frames are
then joined into a looping animated `plot.gif`, 0.5 s a frame.
"""

import os

import imageio.v3 as iio
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

from mentornet import errors

NUM_POINTS = 3000
FRAME_SECONDS = 0.5


def parse_epochs(text):
  """`0,10,99` -> [0, 10, 99]; each epoch must lie in [0, 99]."""
  try:
    epochs = [int(x) for x in str(text).split(",") if x.strip()]
  except ValueError:
    raise errors.BadInput(f"epoch_ranges '{text}' must be comma-separated "
                          "integers") from None
  if not epochs or any(not 0 <= e <= 99 for e in epochs):
    raise errors.BadInput(f"epoch_ranges '{text}': give epochs in [0, 99]")
  return epochs


def curriculum_points(epoch, loss_bound, seed=0):
  """The [3000, 4] MentorNet inputs drawn for one epoch."""
  rng = np.random.default_rng(seed)
  loss = rng.uniform(0, loss_bound, NUM_POINTS)
  diff = np.linspace(-loss_bound, loss_bound, NUM_POINTS, endpoint=False)
  return np.stack(
      [loss, diff, np.zeros(NUM_POINTS),
       np.full(NUM_POINTS, epoch)], 1).astype(np.float32)


def plot_epoch(net, epoch, loss_bound, path):
  """Draws the weights of one epoch as a 3-D scatter saved at `path`."""
  points = curriculum_points(epoch, loss_bound)
  weights = net.weights(points).numpy()
  fig = plt.figure(figsize=(6, 5), dpi=100)
  ax = fig.add_subplot(projection="3d")
  ax.scatter(points[:, 1],
             points[:, 0],
             weights,
             c=weights,
             cmap="viridis",
             s=4,
             vmin=0,
             vmax=1)
  ax.set_xlabel("loss - moving percentile (loss_diff)")
  ax.set_ylabel("loss")
  ax.set_zlabel("weight v")
  ax.set_zlim(0, 1)
  ax.set_title(f"epoch={epoch}")
  fig.savefig(path)
  plt.close(fig)


def visualize(net, output_dir, epochs, loss_bound=15.0):
  """Writes `epoch_<t>.png` for each epoch and the animation `plot.gif`.

  Returns:
    (list of PNG paths, GIF path).
  """
  if loss_bound <= 0:
    raise errors.BadInput(f"loss_bound {loss_bound} must be positive")
  os.makedirs(output_dir, exist_ok=True)
  pngs = []
  for epoch in epochs:
    path = os.path.join(output_dir, f"epoch_{epoch}.png")
    plot_epoch(net, epoch, loss_bound, path)
    pngs.append(path)
  frames = np.stack([iio.imread(p)[..., :3] for p in pngs])
  gif = os.path.join(output_dir, "plot.gif")
  iio.imwrite(gif, frames, duration=int(FRAME_SECONDS * 1000), loop=0)
  return pngs, gif
