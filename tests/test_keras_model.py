"""`model.fit` with a MentorNet curriculum (`mentornet.keras_model`)."""

import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from mentornet import curriculum
from mentornet.models import mentor
from mentornet import training
from mentornet.training import fit_inputs
from mentornet.training import keras_model

PD = "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd"
NUM_CLASSES = 3
BATCH = 16
STEPS_PER_EPOCH = 4
# Curriculum flags that exercise percentile, moving average, burn-in and
# drop-out within a dozen steps.
FLAGS = dict(loss_p_percentile=0.75,
             loss_moving_average_decay=0.6,
             burn_in_epoch=20,
             example_dropout_rates="0.0,10,0.25,40,0.5,50")


def make_data(seed=0, n=BATCH * STEPS_PER_EPOCH):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, 4, 4, 3)).astype(np.float32)
  y = rng.integers(0, NUM_CLASSES, n).astype(np.int64)
  return x, y


def make_student(seed=0, l2=0.0):
  """A small dropout-free classifier; the same seed gives the same weights."""
  keras.utils.set_random_seed(seed)
  reg = keras.regularizers.L2(l2) if l2 else None
  return keras.Sequential([
      keras.Input((4, 4, 3)),
      keras.layers.Flatten(),
      keras.layers.Dense(16, activation="tanh", kernel_regularizer=reg),
      keras.layers.Dense(NUM_CLASSES, kernel_regularizer=reg)
  ])


def sparse_ce():
  return keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                    reduction=None)


def make_model(repo, student, total_steps=None, use_mentornet=True, **kwargs):
  mentornet = str(repo / PD) if use_mentornet else None
  flags = dict(FLAGS) if use_mentornet else {}
  flags.update(kwargs)
  return keras_model.MentorNetModel(student,
                                    mentornet,
                                    max_number_of_steps=total_steps,
                                    **flags)


def dataset(x, y):
  return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)


def max_diff(a, b):
  return max(
      float(np.max(np.abs(u - v)))
      for u, v in zip(a.get_weights(), b.get_weights()))


def library_training(repo, student, x, y, epochs, studentnet, use_mentornet,
                     optimizer):
  """The scripts' step (`training.build_step`) over the same batches."""
  config = training.TrainConfig.from_flat(train_log_dir="unused",
                                          data_dir="unused",
                                          studentnet=studentnet,
                                          use_mentornet=use_mentornet,
                                          max_number_of_steps=epochs *
                                          STEPS_PER_EPOCH,
                                          trained_mentornet_dir=str(repo / PD),
                                          **(FLAGS if use_mentornet else {}))
  cur = training.make_curriculum(config)
  optimizer.build(student.trainable_variables)
  step = training.build_step(config, tf.distribute.get_strategy(), student,
                             optimizer, cur, BATCH)
  for _ in range(epochs):
    for i in range(STEPS_PER_EPOCH):
      batch = slice(i * BATCH, (i + 1) * BATCH)
      step({"image": tf.constant(x[batch]), "label": tf.constant(y[batch])})
  return cur


# (studentnet whose weight-decay rule the scripts apply, use_mentornet,
#  the same rule for fit, L2 of the model's kernels, jit_compile for fit)
RULES = [("inception", True, "none", 0.0, False),
         ("resnet101", True, "scaled_by_weights", 0.01, False),
         ("resnet101", False, "added", 0.01, False),
         ("inception", True, "none", 0.0, True)]


@pytest.mark.parametrize("studentnet,use_mentornet,regularization,l2,jit",
                         RULES)
def test_fit_matches_the_scripts_training_step(repo, studentnet, use_mentornet,
                                               regularization, l2, jit):
  x, y = make_data()
  epochs = 3
  reference = make_student(l2=l2)
  cur = library_training(repo, reference, x, y, epochs, studentnet,
                         use_mentornet, keras.optimizers.SGD(0.5))

  model = make_model(repo,
                     make_student(l2=l2),
                     use_mentornet=use_mentornet,
                     regularization=regularization)
  model.compile(optimizer=keras.optimizers.SGD(0.5),
                loss=sparse_ce(),
                jit_compile=jit)
  model.fit(dataset(x, y), epochs=epochs, verbose=0)

  assert int(model.optimizer.iterations) == epochs * STEPS_PER_EPOCH
  assert max_diff(model.student, reference) <= 1e-5
  assert max_diff(model.student, make_student(l2=l2)) > 1e-2  # it trained
  if use_mentornet:
    assert model.curriculum.max_number_of_steps == epochs * STEPS_PER_EPOCH
    assert float(cur.moving_average.numpy()) > 0
    assert float(model.curriculum.moving_average.numpy()) == pytest.approx(
        float(cur.moving_average.numpy()), rel=1e-6)


def test_both_drivers_log_the_same_statistics_step_by_step(repo):
  """The scripts' loop and fit run one step: same weights, moving average
  and statistics (the union of what each logged before) at every step."""
  x, y = make_data()
  steps = 3 * STEPS_PER_EPOCH
  config = training.TrainConfig.from_flat(train_log_dir="unused",
                                          data_dir="unused",
                                          studentnet="inception",
                                          use_mentornet=True,
                                          max_number_of_steps=steps,
                                          trained_mentornet_dir=str(repo / PD),
                                          **FLAGS)
  reference = make_student()
  cur = training.make_curriculum(config)
  optimizer = keras.optimizers.SGD(0.5)
  optimizer.build(reference.trainable_variables)
  step = training.build_step(config, tf.distribute.get_strategy(), reference,
                             optimizer, cur, BATCH)
  logged = []
  for i in range(steps):
    batch = slice(i % STEPS_PER_EPOCH * BATCH,
                  (i % STEPS_PER_EPOCH + 1) * BATCH)
    logged.append({
        k: float(v) for k, v in step({
            "image": tf.constant(x[batch]),
            "label": tf.constant(y[batch])
        }).items()
    })

  model = make_model(repo,
                     make_student(),
                     total_steps=steps,
                     regularization="none")
  model.compile(optimizer=keras.optimizers.SGD(0.5), loss=sparse_ce())
  history = model.fit(dataset(x, y).repeat(),
                      steps_per_epoch=1,
                      epochs=steps,
                      verbose=0).history  # one step an epoch
  assert max_diff(model.student, reference) <= 1e-5
  assert float(model.curriculum.moving_average.numpy()) == pytest.approx(
      float(cur.moving_average.numpy()), rel=1e-6)
  pairs = {
      "loss": "orig_loss",
      "weighted_loss": "weighted_loss",
      "data_util": "data_util",
      "mean_weight": "mean_weight",
      "percentile_loss": "percentile_loss",
      "moving_average": "moving_average"
  }
  for keras_name, script_name in pairs.items():
    np.testing.assert_allclose(history[keras_name],
                               [m[script_name] for m in logged],
                               rtol=1e-5,
                               err_msg=keras_name)
  assert len({round(m["data_util"], 4) for m in logged}) > 1  # drop-out ran


def test_metrics_are_the_curriculum_statistics(repo):
  """One step: loss, weighted loss, data_util and mean weight against the
  curriculum applied by hand to the initial model's losses."""
  x, y = make_data(n=BATCH)
  model = make_model(repo,
                     make_student(),
                     total_steps=100,
                     example_dropout_rates="0.25,100",
                     burn_in_epoch=0)
  losses = sparse_ce()(y, model(x)).numpy()
  cur = curriculum.MentorNetCurriculum(
      mentor.load_mentornet(str(repo / PD)), 100,
      **dict(FLAGS, example_dropout_rates="0.25,100", burn_in_epoch=0))
  v = cur(losses, 0).weights.numpy()
  model.compile(optimizer=keras.optimizers.SGD(0.1),
                loss=sparse_ce(),
                metrics=["accuracy"])
  logs = model.fit(dataset(x, y), epochs=1, verbose=0).history
  assert logs["loss"][0] == pytest.approx(losses.mean(), rel=1e-5)
  assert logs["weighted_loss"][0] == pytest.approx((losses * v).mean(),
                                                   rel=1e-5)
  assert logs["data_util"][0] == pytest.approx(12 / 16)  # int(16 * 0.75)
  assert logs["mean_weight"][0] == pytest.approx(v.mean(), rel=1e-5)
  assert 0 <= logs["accuracy"][0] <= 1
  evaluated = model.evaluate(x, y, return_dict=True, verbose=0)
  assert set(evaluated) == {"loss", "accuracy"}


@pytest.mark.slow
def test_backup_and_restore_resumes_exactly(repo, tmp_path):
  x, y = make_data()
  epochs = 4

  def run(callbacks):
    model = make_model(repo, make_student())
    model.compile(optimizer=keras.optimizers.SGD(0.3, momentum=0.9),
                  loss=sparse_ce())
    history = model.fit(dataset(x, y),
                        epochs=epochs,
                        verbose=0,
                        callbacks=callbacks)
    return model, history

  class Interrupt(keras.callbacks.Callback):

    def on_epoch_begin(self, epoch, logs=None):
      if epoch == 2:
        raise RuntimeError("interrupted")

  backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
  with pytest.raises(RuntimeError, match="interrupted"):
    run([backup, Interrupt()])
  assert (tmp_path / "backup" / "latest.weights.h5").exists()
  resumed, history = run(
      [keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))])
  assert len(history.history["loss"]) == 2  # epochs 2 and 3 only
  whole, _ = run([])
  assert max_diff(resumed, whole) <= 1e-6
  assert int(resumed.optimizer.iterations) == epochs * STEPS_PER_EPOCH
  assert float(resumed.curriculum.moving_average.numpy()) == pytest.approx(
      float(whole.curriculum.moving_average.numpy()), rel=1e-6)


def test_model_checkpoint_keeps_the_moving_average(repo, tmp_path):
  x, y = make_data()
  model = make_model(repo, make_student())
  model.compile(optimizer=keras.optimizers.SGD(0.3), loss=sparse_ce())
  path = str(tmp_path / "model.weights.h5")
  model.fit(
      dataset(x, y),
      epochs=2,
      verbose=0,
      callbacks=[keras.callbacks.ModelCheckpoint(path, save_weights_only=True)])
  saved = float(model.curriculum.moving_average.numpy())
  assert saved > 0
  fresh = make_model(repo, make_student(seed=1), total_steps=8)
  fresh.compile(optimizer=keras.optimizers.SGD(0.3), loss=sparse_ce())
  fresh.optimizer.build(fresh.trainable_variables)
  fresh.load_weights(path)
  assert float(fresh.curriculum.moving_average.numpy()) == saved
  assert int(fresh.optimizer.iterations) == 8
  assert max_diff(fresh, model) == 0


@pytest.mark.slow
def test_whole_model_checkpoint_loads_and_trains_on(repo, tmp_path):
  x, y = make_data()
  model = make_model(repo, make_student())
  model.compile(optimizer=keras.optimizers.SGD(0.3, momentum=0.9),
                loss=sparse_ce(),
                metrics=["accuracy"])
  path = str(tmp_path / "model.keras")
  model.fit(dataset(x, y),
            epochs=2,
            verbose=0,
            callbacks=[keras.callbacks.ModelCheckpoint(path)])
  loaded = keras.models.load_model(path)
  assert isinstance(loaded, keras_model.MentorNetModel)
  assert max_diff(loaded, model) == 0
  assert float(loaded.curriculum.moving_average.numpy()) == float(
      model.curriculum.moving_average.numpy())
  assert loaded.curriculum.max_number_of_steps == 8
  assert loaded.curriculum.burn_in_epoch == FLAGS["burn_in_epoch"]
  assert int(loaded.optimizer.iterations) == 8
  for m in (model, loaded):
    m.fit(dataset(x, y), epochs=1, verbose=0)
  assert max_diff(loaded, model) <= 1e-6
  given_object = keras_model.MentorNetModel(make_student(),
                                            mentor.load_mentornet(str(repo /
                                                                      PD)),
                                            max_number_of_steps=8)
  with pytest.raises(NotImplementedError, match="save weights instead"):
    given_object.get_config()


@pytest.mark.slow
def test_fit_under_mirrored_strategy_on_two_cpus(repo):
  devices = [d.name for d in tf.config.list_logical_devices("CPU")[:2]]
  assert len(devices) == 2
  x, y = make_data()

  def run(strategy, rates):
    with strategy.scope():
      model = make_model(repo, make_student(), example_dropout_rates=rates)
      model.compile(optimizer=keras.optimizers.SGD(0.5),
                    loss=sparse_ce(),
                    metrics=["accuracy"])
    return model, model.fit(dataset(x, y), epochs=3, verbose=0).history

  mirrored = tf.distribute.MirroredStrategy(devices)
  # Without drop-out the two replicas' step is the one-device step: the
  # percentile is taken over the all-gathered batch and B is global.
  two, logs = run(mirrored, "0.0,100")
  one, one_logs = run(tf.distribute.get_strategy(), "0.0,100")
  assert two.distribute_strategy.num_replicas_in_sync == 2
  assert max_diff(two, one) <= 1e-5
  assert float(two.curriculum.moving_average.numpy()) == pytest.approx(float(
      one.curriculum.moving_average.numpy()),
                                                                       rel=1e-5)
  for name in ("loss", "weighted_loss", "data_util", "mean_weight"):
    np.testing.assert_allclose(logs[name], one_logs[name], rtol=1e-5)
  # With drop-out each replica keeps int(8 * 0.5) of its 8 examples.
  _, logs = run(mirrored, "0.5,100")
  assert logs["data_util"][-1] <= 0.5


def test_one_hot_labels_label_smoothing_and_custom_losses(repo):
  x, y = make_data()
  one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[y]
  smoothing = keras.losses.CategoricalCrossentropy(from_logits=True,
                                                   label_smoothing=0.1,
                                                   reduction=None)

  def squared_margin(y_true, logits):  # a custom per-example loss
    return tf.reduce_sum((tf.nn.softmax(logits) - y_true)**2, axis=-1)

  for loss in (smoothing, squared_margin):
    model = make_model(repo,
                       make_student(),
                       example_dropout_rates="0.0,100",
                       burn_in_epoch=0)
    expected = loss(one_hot[:BATCH], model(x[:BATCH])).numpy()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    logs = model.fit(x,
                     one_hot,
                     batch_size=BATCH,
                     epochs=1,
                     steps_per_epoch=1,
                     shuffle=False,
                     verbose=0).history
    assert logs["loss"][0] == pytest.approx(expected.mean(), rel=1e-5)
    assert model.curriculum.max_number_of_steps == 1


def test_sample_weights_scale_the_per_example_loss(repo):
  x, y = make_data(n=BATCH)
  sample_weight = np.linspace(0.0, 1.0, BATCH).astype(np.float32)
  model = make_model(repo, make_student(), total_steps=10)
  expected = sparse_ce()(y, model(x)).numpy() * sample_weight
  model.compile(optimizer=keras.optimizers.SGD(0.1), loss=sparse_ce())
  logs = model.fit(x,
                   y,
                   sample_weight=sample_weight,
                   batch_size=BATCH,
                   verbose=0).history
  assert logs["loss"][0] == pytest.approx(expected.mean(), rel=1e-5)


@pytest.mark.parametrize("loss,message", [
    (None, "needs a loss that gives one value per example"),
    (keras.losses.SparseCategoricalCrossentropy(from_logits=True),
     "reduction='sum_over_batch_size'; MentorNet weighs each example"),
    ([sparse_ce(), sparse_ce()], "one output and one loss"),
])
def test_compile_refuses_losses_that_are_not_per_example(repo, loss, message):
  model = make_model(repo, make_student(), total_steps=10)
  with pytest.raises(ValueError, match=re.escape(message)):
    model.compile(optimizer="sgd", loss=loss)


def test_fit_refusals(repo):
  x, y = make_data()
  model = make_model(repo, make_student())
  model.compile(optimizer="sgd",
                loss=lambda t, p: tf.zeros([tf.shape(p)[0], 2]))
  with pytest.raises(
      ValueError,
      match=re.escape(
          "returned shape [16, 2]; MentorNet needs one value per example")):
    model.fit(x, y, batch_size=BATCH, verbose=0)
  unknown = dataset(x, y).filter(lambda a, b: True)
  model = make_model(repo, make_student())
  model.compile(optimizer="sgd", loss=sparse_ce())
  with pytest.raises(ValueError,
                     match="give MentorNetModel "
                     "max_number_of_steps, or fit steps_per_epoch"):
    model.fit(unknown, verbose=0)
  with pytest.raises(ValueError, match="regularization 'l2' is unknown"):
    make_model(repo, make_student(), regularization="l2")
  with pytest.raises(FileNotFoundError, match="no MentorNet checkpoint"):
    keras_model.MentorNetModel(make_student(), "no/such/mentornet")
  with pytest.raises(ValueError, match="burn_in_epoch=101 is outside"):
    make_model(repo, make_student(), burn_in_epoch=101)


def readme_example(repo):
  """The Python block of README's "Use MentorNet with your own model"."""
  text = (repo / "README.md").read_text()
  section = text.split("## Use MentorNet with your own model", 1)[1]
  section = section.split("\n## ", 1)[0]
  return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_an_original_tf1_checkpoint_trains_as_ours(repo, tmp_path):
  from test_mentor import tf1_values, write_tf1_checkpoint  # pylint: disable=g-import-not-at-top
  prefix = write_tf1_checkpoint(
      tf1_values(mentor.load_mentornet(str(repo / PD))),
      str(tmp_path / "original" / "model.ckpt"))
  x, y = make_data()
  trained = []
  for path in (str(repo / PD), prefix):
    model = keras_model.MentorNetModel(make_student(), path, **FLAGS)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=sparse_ce())
    model.fit(dataset(x, y), epochs=2, verbose=0)
    trained.append(model)
  assert max_diff(*trained) == 0
  assert float(trained[1].curriculum.moving_average.numpy()) > 0


def test_steps_per_epoch_of_what_fit_receives():

  class Batches(keras.utils.PyDataset):

    def __len__(self):
      return 7

    def __getitem__(self, index):
      raise IndexError(index)

  x = np.zeros((100, 3))
  assert fit_inputs.steps_per_epoch(x) == 4  # Keras' batch size 32
  assert fit_inputs.steps_per_epoch(x, 10, validation_split=0.25) == 8
  assert fit_inputs.steps_per_epoch({"a": x, "b": x}, 50) == 2
  assert fit_inputs.steps_per_epoch(x, 10, steps=3) == 3
  assert fit_inputs.steps_per_epoch(tf.data.Dataset.range(10).batch(3)) == 4
  assert fit_inputs.steps_per_epoch(Batches()) == 7
  assert fit_inputs.steps_per_epoch(tf.data.Dataset.range(10).repeat()) is None
  assert fit_inputs.steps_per_epoch(iter([1, 2])) is None


@pytest.mark.slow
def test_readme_example_runs_as_written(repo, tmp_path, scalars):
  code = readme_example(repo)
  example = (repo / "code" / "keras_fit_example.py").read_text()
  assert code in example  # the shipped example is the README's
  for name in ("data", "mentornet_models"):
    (tmp_path / name).symlink_to(repo / name)
  script = tmp_path / "example.py"
  script.write_text(code)
  result = subprocess.run([sys.executable, str(script)],
                          cwd=tmp_path,
                          capture_output=True,
                          text=True,
                          timeout=900)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "weighted_loss" in result.stdout and "data_util" in result.stdout
  accuracy = float(
      re.search(r"test accuracy ([0-9.]+)", result.stdout).group(1))
  assert accuracy > 0.2  # ten classes: well above chance after training
  tags = scalars(tmp_path / "runs" / "keras_example" / "train")
  for name in ("loss", "weighted_loss", "data_util", "mean_weight"):
    assert len(tags[f"epoch_{name}"]) == 8  # one TensorBoard point per epoch
