"""The curriculum's arithmetic against a NumPy re-statement of the original.

The reference below is written from the original code, not from this
library: `utils.mentornet` (moving average, burn-in, fixed epoch), TF 1.8's
`tf.contrib.distributions.percentile` with its default `nearest`
interpolation, the training scripts' progress epoch
`floor(tf.divide(step, max_steps) * 100)` and `probabilistic_sample`'s
`int(B * (1 - rate))` with a float32 rate.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mentornet import curriculum
from mentornet.data import inputs
from mentornet.models import mentor
from mentornet.models import optimizers
from mentornet.models import students
from mentornet import training
from mentor_reference import numpy_mentornet_weights


def build_student(config):
  """The StudentNet of a TrainConfig or EvalConfig."""
  data = getattr(config, "data", config)
  return students.build_for(config.model, data.dataset_name)


PD = "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd"
QS = (0.5, 0.7, 0.75, 0.8, 0.9)
# 39,000 steps: the float64 epoch is one less than exact integer arithmetic
# at 11,310, 22,230 and 22,620; also the steps around them and the ends.
MAX_STEPS = 39000
STEPS = (0, 1, 389, 390, 11309, 11310, 11311, 22229, 22230, 22620, 22621, 38999)


def run_schedule(config, num_examples):
  """The learning-rate schedule a run of `config` trains with."""
  config = training.with_rules(config)
  return optimizers.make_schedule(config.optimization, config.data.batch_size,
                                  num_examples)


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


def py2_decay_steps(num_samples_per_epoch, batch_size, num_epochs_per_decay):
  """The original scripts' `int(num_samples_per_epoch / FLAGS.batch_size *
  FLAGS.num_epochs_per_decay)` as Python 2 evaluated it: `/` of two ints is
  floor division, a float operand makes it a true division."""

  def py2_div(a, b):
    return a // b if isinstance(a, int) and isinstance(b, int) else a / b

  return int(py2_div(num_samples_per_epoch, batch_size) * num_epochs_per_decay)


def mentor_values(net):
  return {
      mentor.TF1_VARIABLE_NAMES[a]: v.numpy()
      for a, v in net.variable_map().items()
  }


def test_reference_facts_from_the_issue():
  assert [
      s for s in range(MAX_STEPS)
      if ref_epoch(s, MAX_STEPS) != s * 100 // MAX_STEPS
  ] == [11310, 22230, 22620]
  assert ref_kept(100, 0.05) == 94 and ref_kept(10, 0.9) == 1
  # batch 128, q 0.5: the lower median (ascending index 63), not the upper.
  x = np.arange(128, dtype=np.float32)
  assert ref_percentile(x, 0.5) == 63.0


@pytest.mark.parametrize("max_steps", [MAX_STEPS, 2000, 120000, 7, 333])
def test_epoch_matches_the_original_at_every_step(max_steps):
  steps = np.arange(max_steps)
  want = np.minimum(np.floor(steps / np.float64(max_steps) * 100.0), 99)
  bounds = curriculum.epoch_boundaries(max_steps)
  np.testing.assert_array_equal(np.searchsorted(bounds, steps, side="right"),
                                want)
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


@pytest.mark.parametrize("batch_size,rate", [(100, 0.05),
                                             (10, 0.9), (128, 0.05), (128, 0.5),
                                             (128, 0.9), (127, 0.05), (33, 0.7),
                                             (1, 0.5), (7, 1.0), (64, 0.0),
                                             (1000, 0.05), (999, 0.3)])
def test_kept_counts(batch_size, rate):
  cur = curriculum.MentorNetCurriculum(mentor.MentorNet(seed=0),
                                       100,
                                       example_dropout_rates=f"{rate},100")
  loss = tf.constant(np.linspace(0.1, 4, batch_size), tf.float32)
  v = cur(loss, 3).weights.numpy()
  assert np.count_nonzero(v) == ref_kept(batch_size, rate)


def run_reference(net,
                  batch_size,
                  q,
                  burn_in_epoch,
                  fixed,
                  decay,
                  steps,
                  max_steps,
                  seed=0):
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
    feats = np.stack([
        loss, loss - moving_average,
        np.zeros(batch_size),
        np.full(batch_size, cur_epoch)
    ], 1)
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
  cur = curriculum.MentorNetCurriculum(net,
                                       MAX_STEPS,
                                       loss_p_percentile=q,
                                       burn_in_epoch=burn_in_epoch,
                                       fixed_epoch_after_burn_in=fixed,
                                       loss_moving_average_decay=decay,
                                       example_dropout_rates="0.0,100")
  ref = run_reference(net,
                      batch_size,
                      q,
                      burn_in_epoch,
                      fixed,
                      decay,
                      STEPS,
                      MAX_STEPS,
                      seed=batch_size)
  for step, (loss, v, moving_average, epoch) in zip(STEPS, ref):
    got = cur(tf.constant(loss), tf.constant(step, tf.int64))
    assert float(got.stats["epoch"]) == epoch, step
    assert float(cur.moving_average) == pytest.approx(moving_average,
                                                      rel=1e-6,
                                                      abs=1e-7)
    assert np.max(np.abs(got.weights.numpy() - v)) <= 1e-5, step


def test_compiled_curriculum_with_dropout_follows_the_original(repo):
  net = mentor.load_mentornet(str(repo / PD))
  cur = curriculum.MentorNetCurriculum(net,
                                       MAX_STEPS,
                                       loss_p_percentile=0.5,
                                       burn_in_epoch=18,
                                       fixed_epoch_after_burn_in=True,
                                       loss_moving_average_decay=0.5,
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
    assert float(cur.moving_average) == pytest.approx(moving_average, rel=1e-6)


def test_inception_minimises_the_mean_cross_entropy_alone(repo, tmp_path):
  for use_mentornet in (False, True):
    config = training.TrainConfig.from_flat(
        train_log_dir=str(tmp_path),
        data_dir=str(repo / "data/demo/cifar10/0.4"),
        studentnet="inception",
        batch_size=16,
        use_mentornet=use_mentornet,
        trained_mentornet_dir=str(repo / PD),
        burn_in_epoch=100,
        example_dropout_rates="0.0,100")
    strategy = tf.distribute.get_strategy()
    model, _, optimizer, cur = training.build_training(config, 100)
    # The regulariser is declared (0.004 on the fc layers), about 4 at init.
    assert float(tf.add_n(model.losses)) > 1.0
    step = training.build_step(config, strategy, model, optimizer, cur, 16)
    rng = np.random.default_rng(0)
    batch = {
        "image": tf.constant(rng.normal(size=[16, 32, 32, 3]), tf.float32),
        "label": tf.constant(rng.integers(0, 10, 16), tf.int64)
    }
    metrics = step(batch)
    assert float(metrics["decay_loss"]) == 0.0
    assert float(metrics["total_loss"]) == pytest.approx(float(
        metrics["orig_loss"]),
                                                         rel=1e-6)


def test_inception_crop_pads_eight_pixels():
  image = np.full([32, 32, 3], 200, np.uint8)
  borders = set()
  for s in range(300):
    out = inputs.augment(image,
                         students.get("inception").pad,
                         tf.constant([0, s], tf.int64)).numpy()[..., 0]
    padded = out != out.max()  # the zero padding, after standardisation
    rows = padded.all(axis=1)
    cols = padded.all(axis=0)
    for line in (rows, rows[::-1], cols, cols[::-1]):
      borders.add(int(np.argmin(line)) if not line.all() else 32)
  assert max(borders) == 8
  assert borders == set(range(9))


def test_decay_steps_follow_python_2_integer_division():
  assert py2_decay_steps(50000, 128, 50.0) == 19500
  assert py2_decay_steps(50000, 128, 200.0) == 78000
  for n in (50000, 45000, 5000, 1000, 999, 129, 128):
    for b in (1, 25, 32, 100, 127, 128, 256):
      for e in (1.0, 2.5, 30.0, 50.0, 166.4, 185.8, 200.0):
        want = max(1, py2_decay_steps(n, b, e))
        assert optimizers.decay_steps(n, b, e) == want, (n, b, e)


@pytest.mark.parametrize("studentnet,use_mentornet", [("resnet101", False),
                                                      ("inception", False),
                                                      ("inception", True)])
@pytest.mark.parametrize("n,b,e", [(50000, 128, 50.0), (50000, 128, 200.0),
                                   (5000, 128, 30.0), (1000, 128, 185.8),
                                   (45000, 100, 2.5)])
def test_every_exponential_schedule_drops_at_the_python_2_step(
    studentnet, use_mentornet, n, b, e):
  config = training.TrainConfig.from_flat(train_log_dir="x",
                                          data_dir="x",
                                          studentnet=studentnet,
                                          batch_size=b,
                                          num_epochs_per_decay=e,
                                          use_mentornet=use_mentornet)
  schedule = run_schedule(config, n)
  drop = py2_decay_steps(n, b, e)
  assert [float(schedule(s)) for s in (drop - 1, drop, 2 * drop)] == \
      pytest.approx([0.1, 0.01, 0.001])


def test_resnet_mentornet_schedule_keeps_the_hard_coded_boundaries():
  # The original MentorNet resnet script hard-coded [19531, 25000, 30000].
  config = training.TrainConfig.from_flat(train_log_dir="x",
                                          data_dir="x",
                                          use_mentornet=True)
  for n in (50000, 5000):
    schedule = run_schedule(config, n)
    assert [float(schedule(s)) for s in (19531, 19532, 25000, 25001, 30001)
           ] == pytest.approx([0.1, 0.01, 0.01, 0.001, 0.0001])


def _random_starts(variables):
  """{name: values} of the variables drawn at random (not constants)."""
  values = {
      v.path if hasattr(v, "path") else v.name: np.asarray(v).ravel()
      for v in variables
  }
  return {k: v for k, v in values.items() if v.size > 1 and np.ptp(v) > 0}


def _alike(a, b):
  """Whether b starts as a multiple of a (equal included) over their common
  length: the failure of one initializer object reused for two variables."""
  n = min(a.size, b.size)
  x, y = a[:n].astype(np.float64), b[:n].astype(np.float64)
  if np.any(x == 0):
    return bool(
        np.array_equal(x == 0, y == 0) and np.allclose(
            y[x != 0] / x[x != 0], y[x != 0][0] / x[x != 0][0], rtol=1e-4))
  ratio = y / x
  return bool(np.allclose(ratio, ratio[0], rtol=1e-4))


def _build_network(name, seed):
  keras.utils.set_random_seed(seed)
  if name == "mentornet":
    return list(mentor.MentorNet().variable_map().values())
  if name == "mentornet_seeded":
    return list(mentor.MentorNet(seed=seed).variable_map().values())
  config = training.TrainConfig.from_flat(train_log_dir="",
                                          data_dir="",
                                          studentnet=name,
                                          num_residual_units=2,
                                          resnet_widths=(16, 32, 64))
  return build_student(config).weights


@pytest.mark.parametrize(
    "name", ["inception", "resnet101", "mentornet", "mentornet_seeded"])
def test_every_variable_gets_its_own_draw_reproducibly(name):
  first = _random_starts(_build_network(name, 3))
  again = _random_starts(_build_network(name, 3))
  other = _random_starts(_build_network(name, 4))
  assert list(first) == list(again) and len(first) >= 4
  for key in first:
    np.testing.assert_array_equal(first[key], again[key])
    assert not np.array_equal(first[key], other[key]), key
  names = list(first)
  pairs = [(a, b)
           for i, a in enumerate(names)
           for b in names[i + 1:]
           if _alike(first[a], first[b])]
  assert not pairs
  if name.startswith("mentornet"):  # the single-value biases too
    net = mentor.MentorNet(seed=5)
    assert float(net.fc2_bias[0]) != float(net.fc1_bias[0])


def test_alike_finds_a_reused_initializer():
  init = keras.initializers.TruncatedNormal(stddev=0.05, seed=1)
  a = np.asarray(init([5, 5, 3, 64])).ravel()
  b = np.asarray(init([5, 5, 64, 64])).ravel()
  glorot = keras.initializers.GlorotUniform(seed=1)
  c = np.asarray(glorot([2, 2])).ravel()
  d = np.asarray(glorot([100, 5])).ravel()
  assert _alike(a, a * 3) and _alike(c, d)
  assert _alike(a, b) or np.array_equal(a[:100], b[:100])


def test_no_two_of_39000_steps_share_a_dropout_mask():
  keys = curriculum.dropout_key(0, tf.range(MAX_STEPS))
  masks = curriculum.dropout_mask(128, curriculum.keep_fraction(0.5),
                                  keys).numpy()
  assert masks.shape == (MAX_STEPS, 128)
  assert set(masks.sum(axis=1)) == {64.0}
  assert len(np.unique(masks, axis=0)) == MAX_STEPS
  # the steps whose masks coincided when only 16 bits of the key were used
  assert not np.array_equal(masks[1516], masks[5327])
  # two replicas of one step draw differently
  other = curriculum.dropout_mask(128,
                                  curriculum.keep_fraction(0.5),
                                  keys[:50],
                                  replica=1).numpy()
  assert not any(np.array_equal(a, b) for a, b in zip(masks[:50], other))


def test_the_curriculum_drops_by_dropout_mask(repo):
  cur = curriculum.MentorNetCurriculum(mentor.load_mentornet(str(repo / PD)),
                                       MAX_STEPS,
                                       burn_in_epoch=100,
                                       example_dropout_rates="0.5,100",
                                       seed=9)
  loss = tf.constant(np.linspace(0.5, 3, 128), tf.float32)
  for step in (0, 1516, 5327):
    v = cur(loss, tf.constant(step, tf.int64)).weights.numpy()
    want = curriculum.dropout_mask(128, curriculum.keep_fraction(0.5),
                                   curriculum.dropout_key(9, step)).numpy()
    np.testing.assert_array_equal(v, want)  # burn-in: every kept weight 1
