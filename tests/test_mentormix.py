"""MentorMix against NumPy and plain-TF re-statements of the original
(mentormix `utils.py`, `cifar_train_mentormix.py`, `resnet_model.py`), its
network, its averaged weights, its Keras model, grid and script."""

import re
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers
from mentor_reference import numpy_mentornet_weights
from mentornet import config as config_lib
from mentornet import training
from mentornet.config import EvalConfig
from mentornet.curriculum import layers
from mentornet.curriculum import mentormix
from mentornet.evaluation import evaluate
from mentornet.evaluation import watch
from mentornet.models import mentor
from mentornet.models import optimizers
from mentornet.models import students
from mentornet.models.students import resnet
from mentornet.training import build
from mentornet.training import keras_mentormix
from mentornet.training import step as step_lib
from mentornet.models import weight_average


def build_student(config):
  """The StudentNet of a TrainConfig or EvalConfig."""
  data = getattr(config, "data", config)
  return students.build_for(config.model, data.dataset_name)


PD = helpers.PD


def numpy_mix(images, labels, v, partners, factors):
  """The original `mentor_mix_up` in NumPy, given its draws."""
  mix = np.maximum(factors, 1 - factors)
  mix = np.where(v >= 0.5, mix, 1 - mix)
  m4 = mix[:, None, None, None]
  m2 = mix[:, None]
  return (images * m4 + images[partners] * (1 - m4),
          labels * m2 + labels[partners] * (1 - m2))


def test_mixup_against_numpy_with_fixed_draws():
  rng = np.random.default_rng(0)
  images = rng.normal(size=(6, 4, 4, 3)).astype(np.float32)
  labels = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 6)]
  v = np.array([0.9, 0.1, 0.5, 0.49, 0.7, 0.0], np.float32)
  partners = np.array([1, 0, 5, 2, 4, 3])
  factors = np.array([0.2, 0.8, 0.5, 0.6, 0.1, 0.95], np.float32)
  got_x, got_l = mentormix.mix(
      images, labels, v,
      mentormix.Draws(tf.constant(partners, tf.int64), tf.constant(factors)))
  want_x, want_l = numpy_mix(images, labels, v, partners, factors)
  np.testing.assert_allclose(got_x, want_x, atol=1e-6)
  np.testing.assert_allclose(got_l, want_l, atol=1e-6)
  # v >= 0.5 keeps most of itself, v < 0.5 mostly becomes its partner
  kept = np.sum(got_l.numpy() * labels, axis=1)
  assert np.all(kept[v >= 0.5] >= 0.5 - 1e-6)


def test_draws_follow_softmax_and_beta_and_are_seeded():
  logits = np.array([2.0, 0.0, -1.0, 1.0], np.float32)
  v = tf.constant(np.tile(logits, 100))  # 400 examples, 4 kinds
  counts = np.zeros(4)
  factors = []
  for step in range(50):  # 20,000 draws
    draws = mentormix.draws(v, 8.0, tf.constant([7, step], tf.int64))
    counts += np.bincount(draws.partners.numpy() % 4, minlength=4)
    factors.append(draws.factors.numpy())
  want = np.exp(logits) / np.exp(logits).sum()
  np.testing.assert_allclose(counts / counts.sum(), want, atol=0.015)
  factors = np.concatenate(factors)
  assert factors.mean() == pytest.approx(0.5, abs=0.01)  # Beta(8, 8)
  assert factors.var() == pytest.approx(1 / (4 * 17), rel=0.05)
  again = mentormix.draws(v[:4], 8.0, tf.constant([7, 3], tf.int64))
  first = mentormix.draws(v[:4], 8.0, tf.constant([7, 3], tf.int64))
  np.testing.assert_array_equal(again.partners, first.partners)
  np.testing.assert_array_equal(again.factors, first.factors)


def ref_percentile(loss, q):
  """TF 1.8 / TFP `percentile(loss, q * 100)`, interpolation 'nearest'."""
  q100 = np.float64(np.float32(q) * np.float32(100))
  index = int(np.round((loss.size - 1) * (1.0 - q100 / 100.0)))
  return np.sort(loss)[::-1][int(np.clip(index, 0, loss.size - 1))]


def ref_weights(values, loss, moving_average, q=0.6, decay=0.5, epoch=0):
  """The original `utils.mentornet` (burn-in 0, no drop-out) in NumPy."""
  moving_average = np.float32(moving_average * decay +
                              (1 - decay) * ref_percentile(loss, q))
  features = np.stack([
      loss, loss - moving_average,
      np.zeros_like(loss),
      np.full_like(loss, epoch)
  ], 1)
  return numpy_mentornet_weights(values, features), moving_average


def softmax_ce(labels, logits):
  logits = logits.astype(np.float64)
  logits = logits - logits.max(axis=1, keepdims=True)
  log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
  return -(labels * log_p).sum(axis=1)


def small_resnet32(seed=0):
  keras.utils.set_random_seed(seed)
  return resnet.wide_resnet(4,
                            1, (16, 24, 32),
                            image_size=8,
                            init_width=8,
                            name="resnet32")


@pytest.mark.parametrize("second_reweight", [False, True])
def test_one_step_against_the_original_graph(repo, second_reweight):
  """One MentorMix step of a small ResNet-32 against a plain-TF and NumPy
  re-statement of `cifar_train_mentormix.py`'s graph: first pass (batch
  statistics, no moving-average update), MentorNet weights, mixup with the
  step's draws, second pass, (second weighting,) loss and weight decay,
  TF1 momentum; weights after the step within 1e-5."""
  rng = np.random.default_rng(1)
  batch, alpha, lr = 8, 4.0, 0.1
  images = rng.normal(size=(batch, 8, 8, 3)).astype(np.float32)
  labels = np.eye(4, dtype=np.float32)[rng.integers(0, 4, batch)]
  settings = dict(loss_p_percentile=0.6, example_dropout_rates="0.0,100")
  net = mentor.load_mentornet(str(repo / PD))
  values = {
      mentor.TF1_VARIABLE_NAMES[a]: v.numpy()
      for a, v in net.variable_map().items()
  }

  model = small_resnet32()
  reference = small_resnet32()
  optimizer = optimizers.TF1Momentum(lr, 0.9)
  optimizer.build(model.trainable_variables)
  first = layers.MentorNetCurriculum(net, 100, seed=0, **settings)
  mixed = (layers.MentorNetCurriculum(net, 100, seed=1, **settings)
           if second_reweight else layers.UniformCurriculum())
  regularization = "none" if second_reweight else "added"
  result = step_lib.mentormix_step(model,
                                   optimizer,
                                   first,
                                   mixed,
                                   images,
                                   labels,
                                   regularization=regularization,
                                   mixup_alpha=alpha,
                                   seed=3)

  # The original graph, restated.
  statistics = step_lib.batch_norm_statistics(reference)
  saved = [v.numpy() for v in statistics]
  logits = reference(images, training=True).numpy()
  for variable, value in zip(statistics, saved):  # no update op ran
    variable.assign(value)
  v1, average1 = ref_weights(values,
                             softmax_ce(labels, logits).astype(np.float32), 0.0)
  draws = mentormix.draws(tf.constant(v1, tf.float32), alpha,
                          tf.constant([3, 0], tf.int64))
  x_mix, l_mix = numpy_mix(images, labels, v1, draws.partners.numpy(),
                           draws.factors.numpy())
  with tf.GradientTape() as tape:
    logits2 = reference(tf.constant(x_mix, tf.float32), training=True)
    loss2 = tf.nn.softmax_cross_entropy_with_logits(l_mix, logits2)
    if second_reweight:
      v2, average2 = ref_weights(values, loss2.numpy(), 0.0)
      total = tf.reduce_mean(loss2 * tf.constant(v2, tf.float32))
      # tf.losses.get_regularization_loss(): empty in the original ResNet
    else:
      total = tf.reduce_mean(loss2) + tf.add_n(reference.losses)
  grads = tape.gradient(total, reference.trainable_variables)
  for variable, grad in zip(reference.trainable_variables, grads):
    variable.assign_sub(lr * grad)  # first momentum step: a = g

  assert float(result.metrics["orig_loss"]) == pytest.approx(float(
      tf.reduce_mean(loss2)),
                                                             rel=1e-5)
  assert float(first.moving_average) == pytest.approx(float(average1), rel=1e-5)
  if second_reweight:
    assert float(mixed.moving_average) == pytest.approx(float(average2),
                                                        rel=1e-5)
    np.testing.assert_allclose(result.weights, v2, atol=1e-5)
  np.testing.assert_allclose(result.curriculum_weights, v1, atol=1e-5)
  for got, want in zip(model.weights, reference.weights):
    np.testing.assert_allclose(got.numpy(),
                               want.numpy(),
                               atol=1e-5,
                               err_msg=got.path)
  assert max(
      float(np.max(np.abs(a - b)))
      for a, b in zip(model.get_weights(),
                      small_resnet32().get_weights())) > 1e-4


def _original_resnet32_parameters(num_classes):
  """Trainable parameters of mentormix `resnet_model.py` (ResNet-32: 5
  units a stage, filters [64, 128, 256, 512], no bottleneck), counted from
  its code: conv kernels, batch-norm beta and gamma, fc weights and bias."""

  def conv(k, cin, cout):
    return k * k * cin * cout

  total = conv(3, 3, 64)
  in_filters = 64
  for out in (128, 256, 512):
    for _ in range(5):
      total += 2 * in_filters + conv(3, in_filters, out)  # init_bn, conv1
      total += 2 * out + conv(3, out, out)  # bn2, conv2
      in_filters = out
  total += 2 * 512  # final_bn
  return total + 512 * num_classes + num_classes


@pytest.mark.parametrize("dataset,classes", [("cifar10", 10),
                                             ("cifar100", 100)])
def test_resnet32_is_the_originals(dataset, classes):
  model = build_student(
      config_lib.TrainConfig.from_flat(train_log_dir="",
                                       data_dir="",
                                       studentnet="resnet32",
                                       dataset_name=dataset))
  trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
  assert trainable == _original_resnet32_parameters(classes)
  kernels = [v for v in model.trainable_variables if v.path.endswith("kernel")]
  assert len(kernels) == 32  # 31 convolutions and the fc layer
  assert len(model.losses) == 32  # weight decay on every kernel ("DW")
  assert model.get_layer("init_conv").kernel.shape == (3, 3, 3, 64)
  assert model.output_shape == (None, classes)


def test_mentormix_schedule_decays_every_unrounded_epochs():
  config = training.with_rules(
      config_lib.TrainConfig.from_flat(train_log_dir="x",
                                       data_dir="x",
                                       studentnet="resnet32",
                                       use_mentornet=True,
                                       use_mentormix=True,
                                       num_epochs_per_decay=30,
                                       learning_rate_decay_factor=0.9))
  assert config.optimization.schedule == "exponential_unrounded"
  schedule = optimizers.make_schedule(config.optimization,
                                      config.data.batch_size, 50000)
  # 30 x 50,000 / 128 = 11,718.75 steps, as the original computed it.
  assert [float(schedule(s)) for s in (11718, 11719, 23437, 23438)] == \
      pytest.approx([0.1, 0.09, 0.09, 0.081])


def test_threshold_curriculum_is_the_originals():
  loss = tf.constant(np.random.default_rng(2).permutation(20), tf.float32)
  for q in (0.75, 0.7, 0.5):
    curriculum = layers.ThresholdCurriculum(q)
    v = curriculum(loss, 0).weights.numpy()
    threshold = ref_percentile(loss.numpy(), int(q * 100) / 100)
    np.testing.assert_array_equal(v, (loss.numpy() < threshold) * 1.0)


def test_threshold_curriculum_defaults_to_the_originals_075():
  loss = tf.constant(np.random.default_rng(3).permutation(40), tf.float32)
  v = layers.ThresholdCurriculum()(loss, 0).weights.numpy()
  threshold = ref_percentile(loss.numpy(), 0.75)
  np.testing.assert_array_equal(v, (loss.numpy() < threshold) * 1.0)
  assert v.sum() == 29  # below the 75th percentile of 0..39 (0.7 gives 27)


def test_weight_average_is_tf1s_with_num_updates():
  variable = tf.Variable([1.0, 2.0])
  average = weight_average.WeightAverage([variable], 0.9999)
  shadow = np.array([1.0, 2.0])
  for n in range(5):
    variable.assign_add([1.0, -1.0])
    average.update(n)
    d = min(0.9999, (1 + n) / (10 + n))
    shadow -= (1 - d) * (shadow - variable.numpy())
  np.testing.assert_allclose(average.shadows[0].numpy(), shadow, rtol=1e-6)


def test_evaluation_scores_the_averaged_weights(repo, tmp_path):
  cfg = helpers.train_config(tmp_path,
                             max_number_of_steps=6,
                             save_checkpoint_steps=6,
                             use_mentornet=True,
                             use_mentormix=True,
                             ema_decay=0.9999,
                             mixup_alpha=8.0,
                             second_reweight=True,
                             burn_in_epoch=10,
                             example_dropout_rates="0.0,100")
  training.run(cfg)
  prefix = str(tmp_path / "run" / "model.ckpt-6")
  evaluator = evaluate.Evaluator(
      watch.adopt_training_config(
          EvalConfig.from_flat(checkpoint_dir=cfg.run.train_log_dir,
                               data_dir=str(repo / helpers.VAL),
                               batch_size=500))[0])
  evaluator.restore(prefix)
  reader = tf.train.load_checkpoint(prefix)
  shadows = sorted(n for n in reader.get_variable_to_shape_map()
                   if n.startswith("weight_average/shadows/"))
  assert len(shadows) == len(evaluator.model.trainable_variables)
  differs = False
  for i, variable in enumerate(evaluator.model.trainable_variables):
    key = f"weight_average/shadows/{i}/.ATTRIBUTES/VARIABLE_VALUE"
    np.testing.assert_array_equal(variable.numpy(), reader.get_tensor(key))
    # the trained weights themselves (saved once, under the optimizer's list)
    raw = reader.get_tensor(
        f"optimizer/_trainable_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE")
    assert raw.shape == variable.shape
    differs |= not np.array_equal(raw, variable.numpy())
  assert differs  # the averages, not the last weights


def _tiny_student(seed=0):
  keras.utils.set_random_seed(seed)
  return keras.Sequential([
      keras.Input((4, 4, 3)),
      keras.layers.Flatten(),
      keras.layers.Dense(8, activation="tanh"),
      keras.layers.Dense(3)
  ])


@pytest.mark.parametrize("second_reweight", [False, True])
def test_keras_model_runs_the_scripts_step(repo, second_reweight):
  rng = np.random.default_rng(4)
  x = rng.normal(size=(64, 4, 4, 3)).astype(np.float32)
  y = rng.integers(0, 3, 64).astype(np.int64)
  settings = dict(loss_p_percentile=0.6,
                  burn_in_epoch=10,
                  example_dropout_rates="0.0,20,0.5,80")
  config = config_lib.TrainConfig.from_flat(train_log_dir="x",
                                            data_dir="x",
                                            studentnet="inception",
                                            use_mentornet=True,
                                            use_mentormix=True,
                                            max_number_of_steps=8,
                                            trained_mentornet_dir=str(repo /
                                                                      PD),
                                            mixup_alpha=8.0,
                                            second_reweight=second_reweight,
                                            regularization="none",
                                            **settings)
  reference = _tiny_student()
  optimizer = keras.optimizers.SGD(0.5)
  optimizer.build(reference.trainable_variables)
  first = training.make_curriculum(config)
  mixed = build.make_mixed_curriculum(config)
  step = training.build_step(config, tf.distribute.get_strategy(), reference,
                             optimizer, first, 16, mixed)
  for i in range(8):
    part = slice(i % 4 * 16, (i % 4 + 1) * 16)
    step({"image": tf.constant(x[part]), "label": tf.constant(y[part])})

  model = keras_mentormix.MentorMixModel(_tiny_student(),
                                         str(repo / PD),
                                         mixup_alpha=8.0,
                                         second_reweight=second_reweight,
                                         max_number_of_steps=8,
                                         regularization="none",
                                         **settings)
  model.compile(optimizer=keras.optimizers.SGD(0.5),
                loss=keras.losses.CategoricalCrossentropy(from_logits=True,
                                                          reduction=None))
  history = model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16),
                      epochs=2,
                      verbose=0).history
  for got, want in zip(model.student.get_weights(), reference.get_weights()):
    np.testing.assert_allclose(got, want, atol=1e-5)
  assert float(model.curriculum.moving_average) == pytest.approx(float(
      first.moving_average),
                                                                 rel=1e-5)
  if second_reweight:
    assert float(model.mixed_curriculum.moving_average) == pytest.approx(
        float(mixed.moving_average), rel=1e-5)
  assert {"loss", "weighted_loss", "data_util", "mean_weight"} <= set(history)


def test_grid_prints_the_originals_runs_paired(repo):
  out = subprocess.run(
      ["bash", "commands/training_mentormix_command.sh", "--print"],
      cwd=repo,
      capture_output=True,
      text=True,
      check=True).stdout.splitlines()
  assert len(out) == 16
  table = {
      ("cifar10", "0.2"): ("2", "0.8", False),
      ("cifar10", "0.4"): ("8", "0.6", False),
      ("cifar10", "0.6"): ("8", "0.6", True),
      ("cifar10", "0.8"): ("4", "0.2", True),
      ("cifar100", "0.2"): ("2", "0.7", False),
      ("cifar100", "0.4"): ("8", "0.5", False),
      ("cifar100", "0.6"): ("4", "0.3", True),
      ("cifar100", "0.8"): ("8", "0.1", True)
  }
  for train, ev in zip(out[0::2], out[1::2]):
    assert train.startswith("python code/cifar_train_mentormix.py")
    dataset = re.search(r"--dataset_name=(\w+)", train).group(1)
    noise = re.search(r"--data_dir=data/\w+/([\d.]+)", train).group(1)
    alpha, percentile, second = table.pop((dataset, noise))
    assert f"--mixup_alpha={alpha} " in train + " "
    assert f"--loss_p_percentile={percentile} " in train
    assert ("--second_reweight" in train.split()) == second
    for flag in ("--burn_in_epoch=10", "--studentnet=resnet32",
                 "--max_number_of_steps=200000", "--num_epochs_per_decay=30",
                 "--batch_size=128"):
      assert flag in train
    log_dir = re.search(r"--train_log_dir=(\S+)", train).group(1)
    assert ev.startswith("python code/cifar_eval.py")
    assert f"--checkpoint_dir={log_dir}" in ev and "--studentnet=resnet32" in ev
  assert not table


@pytest.mark.slow
def test_script_trains_resumes_after_sigterm_and_is_evaluated(repo, tmp_path):
  log_dir = tmp_path / "run"
  args = [
      sys.executable, "code/cifar_train_mentormix.py", "--dataset_name=cifar10",
      "--studentnet=inception", f"--data_dir={helpers.DEMO}",
      f"--train_log_dir={log_dir}", f"--trained_mentornet_dir={PD}",
      "--batch_size=16", "--max_number_of_steps=20", "--log_every_n_steps=1",
      "--loss_p_percentile=0.6", "--burn_in_epoch=10"
  ]
  proc = subprocess.Popen(args,
                          cwd=repo,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True)
  lines = []
  for line in proc.stdout:
    lines.append(line)
    if "step 8/20" in line:
      proc.send_signal(signal.SIGTERM)
      break
  output = "".join(lines) + proc.communicate(timeout=300)[0]
  assert proc.returncode == 143, output[-3000:]
  stopped = int(re.search(r"stopped by SIGTERM at step (\d+)", output)[1])
  rerun = subprocess.run(args,
                         cwd=repo,
                         capture_output=True,
                         text=True,
                         check=False)
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert f"from step {stopped} to 20" in rerun.stderr
  # The same run uninterrupted ends with the same tensors: weights, both
  # moving averages, averaged weights, optimizer (second weighting on, the
  # script's default).
  whole = subprocess.run([
      a if not a.startswith("--train_log_dir=") else
      f"--train_log_dir={tmp_path / 'whole'}" for a in args
  ],
                         cwd=repo,
                         capture_output=True,
                         text=True,
                         check=False)
  assert whole.returncode == 0, whole.stderr[-3000:]

  def final_tensors(directory):
    reader = tf.train.load_checkpoint(str(directory / "model.ckpt-20"))
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if not name.startswith(("save_counter", "run_config"))
    }

  resumed, uninterrupted = final_tensors(log_dir), final_tensors(tmp_path /
                                                                 "whole")
  assert resumed.keys() == uninterrupted.keys()
  assert any("weight_average" in name for name in resumed)
  assert any("mixed_curriculum" in name for name in resumed)
  for name, value in uninterrupted.items():
    np.testing.assert_array_equal(resumed[name], value, err_msg=name)
  proc = subprocess.run([
      sys.executable, "code/cifar_eval.py", f"--checkpoint_dir={log_dir}",
      f"--data_dir={helpers.VAL}", "--eval_all", "--batch_size=500",
      f"--output_csv_file={tmp_path / 'eval.csv'}"
  ],
                        cwd=repo,
                        capture_output=True,
                        text=True,
                        check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert re.search(r"step 20: test accuracy 0\.\d+", proc.stdout)


def _regularized_student():
  keras.utils.set_random_seed(0)
  return keras.Sequential([
      keras.Input((4, 4, 3)),
      keras.layers.Flatten(),
      keras.layers.Dense(3, kernel_regularizer=keras.regularizers.L2(0.5))
  ])


def test_keras_mentormix_with_second_weighting_adds_no_decay_by_default(repo):
  """The original's second weighting minimised no regularisation loss (its
  decay term was an empty collection): so does MentorMixModel by default."""
  rng = np.random.default_rng(5)
  data = tf.data.Dataset.from_tensor_slices(
      (rng.normal(size=(32, 4, 4, 3)).astype(np.float32),
       rng.integers(0, 3, 32).astype(np.int64))).batch(16)

  def fit(**kwargs):
    model = keras_mentormix.MentorMixModel(_regularized_student(),
                                           str(repo / PD),
                                           max_number_of_steps=4,
                                           example_dropout_rates="0.0,100",
                                           seed=1,
                                           **kwargs)
    model.compile(optimizer=keras.optimizers.SGD(0.5),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True,
                                                            reduction=None))
    model.fit(data, epochs=2, verbose=0)
    return model

  default = fit(second_reweight=True)
  assert default.regularization == "none"
  none = fit(second_reweight=True, regularization="none")
  added = fit(second_reweight=True, regularization="added")
  for a, b in zip(default.student.get_weights(), none.student.get_weights()):
    np.testing.assert_array_equal(a, b)
  assert not np.allclose(default.student.get_weights()[0],
                         added.student.get_weights()[0])
  assert fit(second_reweight=False).regularization == "added"


def test_mentormix_refuses_xla(repo, tmp_path):
  model = keras_mentormix.MentorMixModel(_tiny_student(),
                                         str(repo / PD),
                                         max_number_of_steps=4)
  with pytest.raises(ValueError, match="MentorMix does not run under XLA"):
    model.compile(optimizer="sgd",
                  loss="categorical_crossentropy",
                  jit_compile=True)
  config = config_lib.TrainConfig.from_flat(train_log_dir=str(tmp_path / "r"),
                                            data_dir="x",
                                            use_mentornet=True,
                                            use_mentormix=True,
                                            trained_mentornet_dir=str(repo /
                                                                      PD),
                                            jit_compile=True)
  with pytest.raises(ValueError,
                     match="^--jit_compile: MentorMix's mixup "
                     "draws .* differ under XLA"):
    config.check()
