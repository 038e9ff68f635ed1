"""Curriculum weighting: hand computations, XLA, MirroredStrategy."""

import numpy as np
import pytest
import tensorflow as tf

from mentornet import curriculum
from mentornet.curriculum import arithmetic
from mentornet.models import mentor
from mentor_reference import numpy_mentornet_weights


def make(steps=1000, **kwargs):
  kwargs.setdefault("example_dropout_rates", "0.0,100")
  return curriculum.MentorNetCurriculum(mentor.MentorNet(seed=0), steps,
                                        **kwargs)


def test_parse_dropout_rate_list_expands():
  rates = curriculum.parse_dropout_rate_list("0.5,17,0.05,78,1.0,5")
  assert len(rates) == 100
  assert rates[0] == rates[16] == 0.5
  assert rates[17] == rates[94] == 0.05
  assert rates[95] == rates[99] == 1.0


@pytest.mark.parametrize("text,message", [
    ("0.5,17,0.05,80", "sum to 97, must sum to 100"),
    ("1.5,100", "rate 1.5 is outside"),
    ("-0.1,100", "rate -0.1 is outside"),
    ("0.5,17,0.05", "needs pairs"),
    ("0.5,abc", "must be a number"),
    ("0.5,50.5,0.1,49.5", "must be a non-negative integer"),
])
def test_parse_dropout_rate_list_errors(text, message):
  with pytest.raises(ValueError, match=message):
    curriculum.parse_dropout_rate_list(text)


def test_training_epoch():
  assert int(curriculum.training_epoch(11310, 39000)) == 28  # float64, as TF1
  assert int(curriculum.training_epoch(11311, 39000)) == 29
  assert int(curriculum.training_epoch(0, 39000)) == 0
  assert int(curriculum.training_epoch(389, 39000)) == 0
  assert int(curriculum.training_epoch(390, 39000)) == 1
  assert int(curriculum.training_epoch(38999, 39000)) == 99
  assert int(curriculum.training_epoch(50000, 39000)) == 99


def test_nearest_percentile():
  x = np.array([5., 1., 4., 2., 3., 9., 7., 8., 6., 0.], np.float32)

  def pct(values, q):
    return float(
        curriculum.nearest_percentile(values,
                                      curriculum.percentile_fraction(q)))

  # descending [9..0], index round(9 * 0.3) = round(2.7) = 3 -> 6
  assert pct(x, 0.7) == 6.0
  assert pct(x, 0.75) == 7.0  # round(9 * 0.25) = round(2.25) = 2 -> 7
  assert pct(x, 0.0) == 0.0
  assert pct(x, 1.0) == 9.0
  assert pct(x[:1], 0.7) == 5.0  # batch of one
  # 8 values, q 0.5: round(7 * 0.5) = round(3.5) = 4 (half to even) of the
  # descending values: the lower median.
  assert pct(np.arange(8, dtype=np.float32), 0.5) == 3.0


def test_moving_average_and_weights_follow_hand_computation():
  cur = make(steps=1000, loss_p_percentile=0.5, loss_moving_average_decay=0.9)
  rng = np.random.default_rng(0)
  expected_avg = 0.0
  for step in range(5):
    loss = rng.uniform(0, 5, 9).astype(np.float32)
    out = cur(tf.constant(loss), step * 130)
    p = np.sort(loss)[4]  # round(8 * 0.5) = 4
    expected_avg = 0.9 * expected_avg + 0.1 * p
    assert float(cur.moving_average) == pytest.approx(expected_avg, rel=1e-6)
    epoch = step * 130 * 100 // 1000
    feats = np.stack(
        [loss, loss - expected_avg,
         np.zeros(9), np.full(9, epoch)], 1)
    values = {
        mentor.TF1_VARIABLE_NAMES[a]: v.numpy()
        for a, v in cur.mentornet.variable_map().items()
    }
    np.testing.assert_allclose(out.weights.numpy(),
                               numpy_mentornet_weights(values, feats),
                               atol=1e-5)
    assert float(out.stats["epoch"]) == epoch


def test_burn_in_forces_weights_to_one():
  cur = make(steps=100, burn_in_epoch=10)
  loss = tf.constant([0.1, 5.0, 20.0, 1.0])
  out = cur(loss, 8)  # epoch 8 < burn_in - 1 = 9
  np.testing.assert_array_equal(out.weights.numpy(), np.ones(4))
  out = cur(loss, 9)  # epoch 9 is not < 9: MentorNet decides
  assert np.all(out.weights.numpy() < 1.0)


def test_fixed_epoch_after_burn_in():
  cur = make(steps=100, burn_in_epoch=18, fixed_epoch_after_burn_in=True)
  out = cur(tf.constant([1.0, 2.0]), 60)
  assert float(out.stats["epoch"]) == 18.0
  free = make(steps=100, burn_in_epoch=18)
  assert float(free(tf.constant([1.0, 2.0]), 60).stats["epoch"]) == 60.0


@pytest.mark.parametrize("batch,rate", [(128, 0.5), (128, 0.05), (128, 0.9),
                                        (10, 0.3), (7, 1.0), (1, 0.0),
                                        (100, 0.05), (10, 0.9)])
def test_dropout_keeps_exact_count(batch, rate):
  cur = make(steps=100, example_dropout_rates=f"{rate},100")
  loss = tf.constant(
      np.random.default_rng(batch).uniform(0, 3, batch), tf.float32)
  kept_sets = set()
  for step in range(4):
    v = cur(loss, step).weights.numpy()
    kept = int(batch * (1 - np.float64(np.float32(rate))))
    assert np.count_nonzero(v) == kept
    kept_sets.add(tuple(np.nonzero(v)[0]))
  if 0 < kept < batch:
    assert len(kept_sets) > 1  # a new random draw every step


def test_dropout_is_reproducible_for_a_seed():
  loss = tf.constant(np.linspace(0, 3, 64), tf.float32)
  a = make(example_dropout_rates="0.5,100", seed=7)(loss, 3).weights.numpy()
  b = make(example_dropout_rates="0.5,100", seed=7)(loss, 3).weights.numpy()
  c = make(example_dropout_rates="0.5,100", seed=8)(loss, 3).weights.numpy()
  np.testing.assert_array_equal(a != 0, b != 0)
  assert np.any((a != 0) != (c != 0))


def test_data_utilisation():
  cur = make(steps=100, burn_in_epoch=50, example_dropout_rates="0.25,100")
  out = cur(tf.ones([8]), 0)
  assert float(out.stats["data_util"]) == 0.75
  assert float(out.stats["sum_v"]) == 6.0


def test_bad_arguments():
  with pytest.raises(ValueError, match="loss_p_percentile=1.5 is outside"):
    make(loss_p_percentile=1.5)
  with pytest.raises(ValueError, match="max_number_of_steps 0"):
    make(steps=0)


def test_runs_under_xla():
  cur = make(steps=200, burn_in_epoch=0, example_dropout_rates="0.5,100")
  step_fn = tf.function(lambda loss, step: cur(loss, step), jit_compile=True)
  loss = tf.constant(np.random.default_rng(0).uniform(0, 4, 32), tf.float32)
  out = step_fn(loss, tf.constant(20, tf.int64))
  assert np.count_nonzero(out.weights.numpy()) == 16
  eager = make(steps=200, burn_in_epoch=0, example_dropout_rates="0.5,100")
  eager_out = eager(loss, tf.constant(20, tf.int64))
  np.testing.assert_allclose(out.weights.numpy(),
                             eager_out.weights.numpy(),
                             atol=1e-5)
  assert float(cur.moving_average) == pytest.approx(float(eager.moving_average),
                                                    rel=1e-6)


def test_runs_under_mirrored_strategy():
  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  assert strategy.num_replicas_in_sync == 2
  with strategy.scope():
    cur = make(steps=100, loss_p_percentile=0.7)
  losses = np.arange(16, dtype=np.float32)
  dataset = tf.data.Dataset.from_tensor_slices(losses).batch(16)
  dist = iter(strategy.experimental_distribute_dataset(dataset))

  @tf.function
  def step(batch):
    out = strategy.run(lambda l: cur(l, 5), args=(batch,))
    return strategy.experimental_local_results(out.weights)

  weights = step(next(dist))
  assert sum(int(np.size(w)) for w in weights) == 16
  # The percentile is taken over the global batch: round(15 * 0.7) = 10.
  assert float(cur.moving_average.numpy()) == pytest.approx(0.5 * 10.0)


def test_hash_matches_reference_lowbias32():

  def ref(x):
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)

  xs = [0, 1, 2, 12345, 0xFFFFFFFF, 0x80000000, 987654321]
  got = arithmetic._hash32(tf.constant(xs, tf.int64)).numpy()  # pylint: disable=protected-access
  assert list(got) == [ref(x) for x in xs]
