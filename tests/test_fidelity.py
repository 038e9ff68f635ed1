"""The curriculum's arithmetic against a NumPy re-statement of the original.

The reference below is written from the original code, not from this
library: `utils.mentornet` (moving average, burn-in, fixed epoch), TF 1.8's
`tf.contrib.distributions.percentile` with its default `nearest`
interpolation, the training scripts' progress epoch
`floor(tf.divide(step, max_steps) * 100)` and `probabilistic_sample`'s
`int(B * (1 - rate))` with a float32 rate.
"""

import numpy as np
import pytest
import tensorflow as tf

from mentornet import curriculum
from mentornet import inputs
from mentornet import mentor
from mentornet import train_lib
from mentor_reference import numpy_mentornet_weights

PD = "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd"
QS = (0.5, 0.7, 0.75, 0.8, 0.9)
# 39,000 steps: the float64 epoch is one less than exact integer arithmetic
# at 11,310, 22,230 and 22,620; also the steps around them and the ends.
MAX_STEPS = 39000
STEPS = (0, 1, 389, 390, 11309, 11310, 11311, 22229, 22230, 22620, 22621,
         38999)


def ref_epoch(step, max_steps):
  """`tf.to_int32(tf.floor(tf.divide(step, max_steps) * 100))`, int64 inputs."""
  return int(np.floor(np.float64(step) / np.float64(max_steps) * 100.0))


def ref_percentile(loss, q):
  """TF 1.8 `percentile(loss, q * 100)`, interpolation 'nearest'."""
  q100 = np.float32(q) * np.float32(100)  # float32 table times 100, float32
  q100 = np.float64(q100)  # `math_ops.to_double(q)`
  d = np.float64(loss.size)
  index = np.round((d - 1) * (1.0 - q100 / 100.0))  # round half to even
  index = int(np.clip(index, 0, loss.size - 1))
  return np.sort(loss.ravel())[::-1][index]  # `top_k`: descending


def ref_kept(batch_size, rate):
  """`int(p.shape[0] * (1 - rate))`, rate a float32 0-d array (NumPy 1.x)."""
  return int(batch_size * (1 - np.float64(np.float32(rate))))


def mentor_values(net):
  return {mentor.TF1_VARIABLE_NAMES[a]: v.numpy()
          for a, v in net.variable_map().items()}


def test_reference_facts_from_the_issue():
  assert [s for s in range(MAX_STEPS)
          if ref_epoch(s, MAX_STEPS) != s * 100 // MAX_STEPS] == [
              11310, 22230, 22620]
  assert ref_kept(100, 0.05) == 94 and ref_kept(10, 0.9) == 1
  # batch 128, q 0.5: the lower median (ascending index 63), not the upper.
  x = np.arange(128, dtype=np.float32)
  assert ref_percentile(x, 0.5) == 63.0


@pytest.mark.parametrize("max_steps", [MAX_STEPS, 2000, 120000, 7, 333])
def test_epoch_matches_the_original_at_every_step(max_steps):
  steps = np.arange(max_steps)
  want = np.minimum(np.floor(steps / np.float64(max_steps) * 100.0), 99)
  bounds = curriculum.epoch_boundaries(max_steps)
  np.testing.assert_array_equal(
      np.searchsorted(bounds, steps, side="right"), want)
  for step in (0, max_steps // 3, max_steps - 1):
    assert curriculum.progress_epoch(step, max_steps) == want[step]


def test_epoch_in_tensorflow_eager_graph_and_xla():
  graph = tf.function(lambda s: curriculum.training_epoch(s, MAX_STEPS))
  xla = tf.function(lambda s: curriculum.training_epoch(s, MAX_STEPS),
                    jit_compile=True)
  for step in STEPS:
    want = ref_epoch(step, MAX_STEPS)
    s = tf.constant(step, tf.int64)
    assert int(curriculum.training_epoch(s, MAX_STEPS)) == want
    assert int(graph(s)) == want and int(xla(s)) == want


def test_percentile_matches_the_original_for_every_batch_size():
  rng = np.random.default_rng(0)
  fn = tf.function(curriculum.nearest_percentile, reduce_retracing=True)
  for q in QS:
    frac = curriculum.percentile_fraction(q)
    for b in list(range(1, 130)) + [255, 256, 257, 511, 1000, 1023, 1024]:
      loss = rng.permutation(b).astype(np.float32)  # the value is the rank
      assert float(fn(loss, frac)) == ref_percentile(loss, q), (q, b)


@pytest.mark.parametrize("batch_size,rate", [
    (100, 0.05), (10, 0.9), (128, 0.05), (128, 0.5), (128, 0.9), (127, 0.05),
    (33, 0.7), (1, 0.5), (7, 1.0), (64, 0.0), (1000, 0.05), (999, 0.3)])
def test_kept_counts(batch_size, rate):
  cur = curriculum.MentorNetCurriculum(
      mentor.MentorNet(seed=0), 100, example_dropout_rates=f"{rate},100")
  loss = tf.constant(np.linspace(0.1, 4, batch_size), tf.float32)
  v = cur(loss, 3).weights.numpy()
  assert np.count_nonzero(v) == ref_kept(batch_size, rate)


def run_reference(net, batch_size, q, burn_in_epoch, fixed, decay, steps,
                  max_steps, seed=0):
  """Weights, moving averages and epochs of the original, step by step."""
  values = mentor_values(net)
  rng = np.random.default_rng(seed)
  moving_average = np.float32(0.0)
  out = []
  for step in steps:
    loss = rng.gamma(1.5, 1.0, batch_size).astype(np.float32)
    epoch = ref_epoch(step, max_steps)
    cur_epoch = min(epoch, burn_in_epoch) if fixed else epoch
    p = ref_percentile(loss, q)
    moving_average = np.float32(moving_average * np.float32(decay) +
                                np.float32(1 - decay) * p)
    feats = np.stack([loss, loss - moving_average, np.zeros(batch_size),
                      np.full(batch_size, cur_epoch)], 1)
    v = numpy_mentornet_weights(values, feats)
    if cur_epoch < burn_in_epoch - 1:
      v = np.maximum(v, 1.0)
    out.append((loss, v, float(moving_average), cur_epoch))
  return out


@pytest.mark.parametrize("batch_size", [128, 127, 33])
@pytest.mark.parametrize("q", QS)
@pytest.mark.parametrize("burn_in_epoch,fixed", [(0, False), (40, False),
                                                 (40, True)])
def test_weights_moving_average_and_epoch_follow_the_original(
    repo, batch_size, q, burn_in_epoch, fixed):
  net = mentor.load_mentornet(str(repo / PD))
  decay = 0.9
  cur = curriculum.MentorNetCurriculum(
      net, MAX_STEPS, loss_p_percentile=q, burn_in_epoch=burn_in_epoch,
      fixed_epoch_after_burn_in=fixed, loss_moving_average_decay=decay,
      example_dropout_rates="0.0,100")
  ref = run_reference(net, batch_size, q, burn_in_epoch, fixed, decay, STEPS,
                      MAX_STEPS, seed=batch_size)
  for step, (loss, v, moving_average, epoch) in zip(STEPS, ref):
    got = cur(tf.constant(loss), tf.constant(step, tf.int64))
    assert float(got.stats["epoch"]) == epoch, step
    assert float(cur.moving_average) == pytest.approx(moving_average,
                                                      rel=1e-6, abs=1e-7)
    assert np.max(np.abs(got.weights.numpy() - v)) <= 1e-5, step


def test_compiled_curriculum_with_dropout_follows_the_original(repo):
  net = mentor.load_mentornet(str(repo / PD))
  cur = curriculum.MentorNetCurriculum(
      net, MAX_STEPS, loss_p_percentile=0.5, burn_in_epoch=18,
      fixed_epoch_after_burn_in=True, loss_moving_average_decay=0.5,
      example_dropout_rates="0.5,17,0.05,83")
  step_fn = tf.function(cur.__call__, jit_compile=True)
  ref = run_reference(net, 128, 0.5, 18, True, 0.5, STEPS, MAX_STEPS)
  for step, (loss, v, moving_average, epoch) in zip(STEPS, ref):
    got = step_fn(tf.constant(loss), tf.constant(step, tf.int64))
    w = got.weights.numpy()
    kept = w != 0
    rate = 0.5 if epoch < 17 else 0.05
    assert kept.sum() == ref_kept(128, rate), step
    assert np.max(np.abs(w[kept] - v[kept])) <= 1e-5, step
    assert float(got.stats["epoch"]) == epoch
    assert float(cur.moving_average) == pytest.approx(moving_average,
                                                      rel=1e-6)


def test_inception_minimises_the_mean_cross_entropy_alone(repo, tmp_path):
  for use_mentornet in (False, True):
    config = train_lib.TrainConfig(
        train_log_dir=str(tmp_path), data_dir=str(repo / "data/demo/cifar10/0.4"),
        studentnet="inception", batch_size=16, use_mentornet=use_mentornet,
        trained_mentornet_dir=str(repo / PD),
        burn_in_epoch=100, example_dropout_rates="0.0,100")
    strategy = tf.distribute.get_strategy()
    model, _, optimizer, cur = train_lib.build_training(config, 100)
    # The regulariser is declared (0.004 on the fc layers), about 4 at init.
    assert float(tf.add_n(model.losses)) > 1.0
    step = train_lib.build_step(config, strategy, model, optimizer, cur, 16)
    rng = np.random.default_rng(0)
    batch = {"image": tf.constant(rng.normal(size=[16, 32, 32, 3]),
                                  tf.float32),
             "label": tf.constant(rng.integers(0, 10, 16), tf.int64)}
    metrics = step(batch)
    assert float(metrics["decay_loss"]) == 0.0
    assert float(metrics["total_loss"]) == pytest.approx(
        float(metrics["orig_loss"]), rel=1e-6)


def test_inception_crop_pads_eight_pixels():
  image = np.full([32, 32, 3], 200, np.uint8)
  borders = set()
  for s in range(300):
    out = inputs.augment(image, "inception",
                         tf.constant([0, s], tf.int64)).numpy()[..., 0]
    padded = out != out.max()  # the zero padding, after standardisation
    rows = padded.all(axis=1)
    cols = padded.all(axis=0)
    for line in (rows, rows[::-1], cols, cols[::-1]):
      borders.add(int(np.argmin(line)) if not line.all() else 32)
  assert max(borders) == 8
  assert borders == set(range(9))
