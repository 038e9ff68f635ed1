"""Mixed precision (`--precision`, `models.precision`): what computes in the
low precision and what stays float32, checkpoints shared between precisions,
the warning lines, float16's loss scaling, and the Keras path."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers

from mentornet import config
from mentornet import training
from mentornet.curriculum import factory
from mentornet.models import mentor
from mentornet.models import precision
from mentornet.models import students
from mentornet.models.students import cifarnet
from mentornet.training import keras_model
from mentornet.training import step as step_lib

LOW = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}
# Small enough to build in a second; each StudentNet's own layers.
MODELS = {
    "inception": {},
    "resnet101": dict(num_residual_units=1, resnet_widths=(16, 32, 64)),
    "resnet32": {},
}


def build(studentnet, precision_name, dataset="cifar10"):
  model = config.ModelConfig(studentnet=studentnet,
                             precision=precision_name,
                             **MODELS[studentnet])
  return students.build_for(model, dataset)


def float32_layer(layer):
  """Layers that stay float32 at every precision: the logits, CifarNet's
  LRN (and the input layer, which casts nothing)."""
  return layer.name in ("logits", "logit", "norm1", "norm2")


@pytest.mark.parametrize("studentnet", sorted(MODELS))
@pytest.mark.parametrize("name", sorted(LOW))
def test_layers_compute_low_and_keep_float32_variables(studentnet, name):
  model = build(studentnet, name)
  computing = {}
  for layer in model.layers:
    if isinstance(layer, keras.layers.InputLayer):
      continue
    computing[layer.name] = layer.compute_dtype
    expected = "float32" if float32_layer(layer) else LOW[name]
    assert layer.compute_dtype == expected, (layer.name, layer.compute_dtype)
  assert LOW[name] in computing.values()
  # (Dropout's seed generator keeps an integer state.)
  assert {v.dtype for v in model.variables if "int" not in v.dtype
         } == {"float32"}
  outputs = model(tf.zeros([2, 32, 32, 3]), training=True)
  assert outputs.dtype == tf.float32
  # Batch normalisation keeps float32 statistics, and updates them.
  stats = step_lib.batch_norm_statistics(model)
  assert (len(stats) > 0) == (studentnet != "inception")
  assert {v.dtype for v in stats} <= {"float32"}
  # Keras' global policy is put back after the build.
  assert keras.mixed_precision.global_policy().name == "float32"


def test_float32_builds_every_layer_in_float32():
  for studentnet in MODELS:
    model = build(studentnet, "float32")
    assert {layer.compute_dtype for layer in model.layers} == {"float32"}
  lrn = [l for l in build("inception", "float32").layers if "norm" in l.name]
  assert [l.exact for l in lrn] == [True, True]  # the original's kernel


def numpy_lrn(x, radius=4, bias=1.0, alpha=0.001 / 9.0, beta=0.75):
  """tf.nn.local_response_normalization's documented formula."""
  squares = x.astype(np.float64)**2
  sums = np.zeros_like(squares)
  channels = x.shape[-1]
  for d in range(channels):
    sums[..., d] = squares[..., max(0, d - radius):d + radius + 1].sum(-1)
  return x / (bias + alpha * sums)**beta


def test_the_mixed_precision_lrn_is_the_formula_in_float32():
  x = np.random.default_rng(0).normal(0, 20, [3, 5, 5, 64]).astype(np.float32)
  composite = cifarnet.composite_lrn(tf.constant(x))
  assert composite.dtype == tf.float32
  np.testing.assert_allclose(composite.numpy(), numpy_lrn(x), rtol=2e-6)
  np.testing.assert_allclose(cifarnet.LocalResponseNormalization()(x).numpy(),
                             numpy_lrn(x),
                             rtol=2e-6)
  layers = [
      l for l in build("inception", "mixed_bfloat16").layers if "norm" in l.name
  ]
  assert [(l.exact, l.compute_dtype) for l in layers
         ] == [(False, "float32")] * 2
  # Its gradient is the kernel's.
  x = tf.constant(x)
  grads = []
  for lrn in (cifarnet.composite_lrn,
              lambda v: cifarnet.LocalResponseNormalization()(v)):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = tf.reduce_sum(lrn(x) * tf.range(64, dtype=tf.float32))
    grads.append(tape.gradient(y, x).numpy())
  np.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_losses_curriculum_inputs_and_weights_are_float32(monkeypatch):
  model = build("inception", "mixed_bfloat16")
  curriculum = factory.make(config.CURRICULUM_MENTORNET,
                            mentornet=mentor.load_mentornet(
                                str(helpers.REPO / helpers.PD)),
                            max_number_of_steps=100,
                            example_dropout_rates="0.0,100")
  seen = []
  call = type(curriculum).call

  def spy(self, loss, global_step):
    seen.append(loss.dtype)
    return call(self, loss, global_step)

  monkeypatch.setattr(type(curriculum), "call", spy)
  optimizer = keras.optimizers.SGD(0.01)
  optimizer.build(model.trainable_variables)
  images = tf.random.stateless_normal([8, 32, 32, 3], [1, 2])
  labels = tf.constant([0, 1, 2, 3, 4, 5, 6, 7], tf.int64)
  result = tf.function(
      lambda: step_lib.train_step(model,
                                  optimizer,
                                  curriculum,
                                  images,
                                  labels,
                                  labels,
                                  regularization=config.REGULARIZATION_NONE))()
  assert seen == [tf.float32]
  assert curriculum.compute_dtype == "float32"
  for value in (result.losses, result.weights, result.predictions,
                result.curriculum_weights):
    assert value.dtype == tf.float32
  assert all(v.dtype == tf.float32
             for v in result.metrics.values()
             if v.dtype.is_floating)
  assert int(optimizer.iterations) == 1


def test_the_curriculum_is_float32_under_a_mixed_global_policy():
  with precision.scope("mixed_bfloat16"):
    curriculum = factory.make(config.CURRICULUM_THRESHOLD,
                              max_number_of_steps=10,
                              loss_p_percentile=0.5)
  assert curriculum.compute_dtype == "float32"
  out = curriculum(tf.constant([1.0, 2.0, 3.0, 4.0]), 0)
  assert out.weights.dtype == tf.float32


def test_checkpoints_are_interchangeable_between_precisions(tmp_path):
  keras.utils.set_random_seed(1)
  single = build("resnet101", "float32")
  path = tf.train.Checkpoint(model=single).write(str(tmp_path / "f32"))
  low = build("resnet101", "mixed_bfloat16")
  tf.train.Checkpoint(model=low).read(path).assert_consumed()
  for a, b in zip(single.variables, low.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  # Trained at bfloat16 (weights and BN statistics move), then read back
  # into a float32 model: equal again.
  optimizer = keras.optimizers.SGD(0.1)
  images = tf.random.stateless_normal([4, 32, 32, 3], [3, 4])
  with tf.GradientTape() as tape:
    loss = tf.reduce_mean(
        students.example_loss(tf.constant([1, 2, 3, 4]),
                              step_lib.forward(low, images)))
  optimizer.apply(tape.gradient(loss, low.trainable_variables),
                  low.trainable_variables)
  moved = [v.numpy() for v in low.variables]
  assert any(
      not np.array_equal(m, a.numpy()) for m, a in zip(moved, single.variables))
  path = tf.train.Checkpoint(model=low).write(str(tmp_path / "bf16"))
  tf.train.Checkpoint(model=single).read(path).assert_consumed()
  for m, b in zip(moved, single.variables):
    np.testing.assert_array_equal(m, b.numpy())


@pytest.mark.parametrize("name, gpus, flags, expected", [
    ("float32", [], frozenset(), None),
    ("mixed_bfloat16", [], frozenset({"avx512_bf16"}), None),
    ("mixed_bfloat16", [], frozenset({"amx_bf16", "avx2"}), None),
    ("mixed_bfloat16", [], frozenset({"avx2"}),
     "--precision=mixed_bfloat16 on a CPU without bfloat16 instructions "
     "(avx512_bf16 or amx_bf16 not among its flags): this runs slower "
     "than float32; use --precision=float32 on this machine"),
    ("mixed_float16", [], frozenset({"avx512_bf16"}),
     "--precision=mixed_float16 without a GPU: CPUs have no fast float16 "
     "path, so this runs slower than float32; use "
     "--precision=mixed_bfloat16 on this machine"),
    ("mixed_float16", [], frozenset(),
     "--precision=mixed_float16 without a GPU: CPUs have no fast float16 "
     "path, so this runs slower than float32; use --precision=float32 on "
     "this machine"),
    ("mixed_float16", [(7, 0)], frozenset(), None),
    ("mixed_bfloat16", [(8, 0)], frozenset(), None),
    ("mixed_bfloat16", [(7, 5)], frozenset({"avx512_bf16"}),
     "--precision=mixed_bfloat16 on a GPU of compute capability 7.5 "
     "(bfloat16 is fast from 8.0): this runs slowly; use "
     "--precision=mixed_float16 on this GPU"),
])
def test_the_slow_path_warning(name, gpus, flags, expected):
  assert precision.slow_path_warning(name, gpus, flags) == expected


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
  info = tmp_path / "cpuinfo"
  info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\n"
                  "processor\t: 1\nflags\t\t: fpu avx2 avx512_bf16\n")
  assert precision.cpu_flags(str(info)) == {"fpu", "avx2", "avx512_bf16"}
  assert precision.cpu_flags(str(tmp_path / "none")) == frozenset()


def test_an_unknown_precision_is_one_line():
  with pytest.raises(ValueError,
                     match=r"^--precision=half is unknown; "
                     r"choose one of float32, mixed_bfloat16, mixed_float16$"):
    config.ModelConfig(precision="half").check()
  with pytest.raises(ValueError, match="--precision=half is unknown"):
    precision.scope("half").__enter__()


def starting_scale(scale):
  """`precision.wrap_optimizer` whose loss scale starts at `scale`."""
  wrap = precision.wrap_optimizer

  def wrapped(optimizer, name):
    optimizer = wrap(optimizer, name)
    optimizer.initial_scale = scale
    return optimizer

  return wrapped


def test_float16_skips_a_step_whose_gradients_overflow(tmp_path, monkeypatch):
  """A loss scale of 2**100 makes every float16 gradient overflow: the
  scaler halves it and the weights stay; the step still counts, and the
  run is not stopped as a NaN."""
  model = build("inception", "mixed_float16")
  optimizer = precision.wrap_optimizer(keras.optimizers.SGD(0.1),
                                       "mixed_float16")
  optimizer.initial_scale = 2.0**100
  optimizer.build(model.trainable_variables)
  before = [v.numpy() for v in model.trainable_variables]
  curriculum = factory.make(factory.UNIFORM)
  images = tf.random.stateless_normal([8, 32, 32, 3], [5, 6])
  labels = tf.constant([0, 1, 2, 3, 4, 5, 6, 7], tf.int64)
  step = tf.function(lambda: step_lib.train_step(model,
                                                 optimizer,
                                                 curriculum,
                                                 images,
                                                 labels,
                                                 regularization=config.
                                                 REGULARIZATION_NONE).metrics)
  metrics = step()
  assert np.isfinite(float(metrics["weighted_loss"]))
  assert int(optimizer.iterations) == 1  # counted, though skipped
  assert float(optimizer.dynamic_scale) == 2.0**99
  for b, v in zip(before, model.trainable_variables):
    np.testing.assert_array_equal(b, v.numpy())
  # With a scale the gradients fit in, the next steps update the weights.
  optimizer.dynamic_scale.assign(2.0**10)
  step()
  assert int(optimizer.iterations) == 2
  assert float(optimizer.dynamic_scale) == 2.0**10
  assert any(not np.array_equal(b, v.numpy())
             for b, v in zip(before, model.trainable_variables))

  # The scripts' loop: skipped steps are no NaN failure, and count.
  monkeypatch.setattr(precision, "wrap_optimizer", starting_scale(2.0**100))
  cfg = helpers.train_config(tmp_path,
                             max_number_of_steps=6,
                             precision="mixed_float16")
  metrics = training.run(cfg)
  assert np.isfinite(metrics["total_loss"])
  reader = tf.train.load_checkpoint(str(tmp_path / "run" / "model.ckpt-6"))
  names = dict(tf.train.list_variables(str(tmp_path / "run" / "model.ckpt-6")))
  scale = [n for n in names if "dynamic_scale" in n]
  assert len(scale) == 1
  assert reader.get_tensor(scale[0]) == 2.0**94  # six halvings
  # The global step is the wrapped optimizer's (the scaler keeps an
  # unused one of its own).
  assert int(
      reader.get_tensor("optimizer/inner_optimizer/_iterations/.ATTRIBUTES/"
                        "VARIABLE_VALUE")) == 6


@pytest.mark.slow
def test_the_scripts_take_the_flag_warn_once_and_refuse_another_on_resume(
    tmp_path):
  run = str(tmp_path / "run")
  common = ("--studentnet=inception", f"--data_dir={helpers.DEMO}",
            f"--train_log_dir={run}", "--batch_size=16",
            "--max_number_of_steps=3")
  proc = helpers.run_script("cifar_train_baseline.py",
                            *common,
                            "--precision=mixed_bfloat16",
                            env={"MENTORNET_CPU_FLAGS": "fpu,avx2"})
  assert proc.returncode == 0, proc.stderr[-2000:]
  warnings = [l for l in proc.stderr.splitlines() if "--precision=" in l]
  assert len(warnings) == 1 and warnings[0].endswith(
      "use --precision=float32 on this machine"), warnings
  with open(tmp_path / "run" / "train_config.json") as f:
    assert json.load(f)["precision"] == "mixed_bfloat16"
  # No warning where the CPU has the instructions.
  proc = helpers.run_script("cifar_train_baseline.py",
                            *common[:-1],
                            "--max_number_of_steps=4",
                            "--precision=mixed_bfloat16",
                            env={"MENTORNET_CPU_FLAGS": "avx512_bf16"})
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "--precision=" not in proc.stderr
  # Resuming at another precision is refused, nothing changed.
  proc = helpers.run_script("cifar_train_baseline.py", *common[:-1],
                            "--max_number_of_steps=5")
  assert proc.returncode == 1
  last = proc.stderr.strip().splitlines()[-1]
  assert ("precision: 'mixed_bfloat16' there, 'float32' here" in last), last
  # The eval job reads the bfloat16 run at any precision.
  scores = {}
  for name in ("float32", "mixed_bfloat16"):
    proc = helpers.run_script("cifar_eval.py", f"--checkpoint_dir={run}",
                              f"--data_dir={helpers.VAL}", "--eval_once",
                              f"--precision={name}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    scores[name] = float(proc.stdout.split("accuracy ")[1].split(",")[0])
  assert abs(scores["float32"] - scores["mixed_bfloat16"]) <= 0.02, scores


def test_help_describes_the_flag():
  proc = helpers.run_script("cifar_train_mentornet.py", "--helpfull")
  assert "--precision: <float32|mixed_bfloat16|mixed_float16>" in proc.stdout
  assert "Variables, losses and the curriculum stay float32" in " ".join(
      proc.stdout.split())


def small_student(name):
  with precision.scope(name):
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    logits = keras.layers.Dense(3, dtype="float32")(hidden)
    return keras.Model(inputs, logits)


def test_keras_models_take_the_students_precision():
  loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                    reduction=None)
  model = keras_model.MentorNetModel(small_student("mixed_bfloat16"),
                                     str(helpers.REPO / helpers.PD),
                                     example_dropout_rates="0.0,100",
                                     max_number_of_steps=4)
  assert model.precision == "mixed_bfloat16"
  assert model.curriculum.compute_dtype == "float32"
  model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
  x = np.random.default_rng(0).normal(size=[16, 4]).astype(np.float32)
  y = np.arange(16) % 3
  history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
  assert np.all(np.isfinite(history.history["loss"]))
  assert model.get_config()["precision"] == "mixed_bfloat16"
  # float16: compile scales the loss; an explicit precision must be the
  # student's.
  model = keras_model.MentorNetModel(small_student("mixed_float16"),
                                     precision="mixed_float16")
  model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
  assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
  model.fit(x, y, batch_size=8, epochs=1, verbose=0)
  assert int(model.optimizer.iterations) == 2
  with pytest.raises(ValueError,
                     match=r"precision='mixed_bfloat16', but the student "
                     r"computes in float32 \(float32\); build it inside "
                     r"mentornet.models.precision.scope\('mixed_bfloat16'\)"):
    keras_model.MentorNetModel(small_student("float32"),
                               precision="mixed_bfloat16")


@pytest.mark.parametrize("name", ["mixed_bfloat16", "mixed_float16"])
def test_a_mixed_precision_run_resumes_bit_for_bit(tmp_path, name):
  """Stopped at step 2 and resumed, the run ends where an uninterrupted
  one does: the loss scaler's state is in the checkpoint too."""
  whole = helpers.train_config(tmp_path / "whole",
                               max_number_of_steps=4,
                               precision=name)
  training.run(whole)
  parts = helpers.train_config(tmp_path / "parts",
                               max_number_of_steps=2,
                               precision=name)
  training.run(parts)
  training.run(parts.replace(max_number_of_steps=4))
  a = tf.train.load_checkpoint(str(tmp_path / "whole" / "run" / "model.ckpt-4"))
  b = tf.train.load_checkpoint(str(tmp_path / "parts" / "run" / "model.ckpt-4"))
  names = sorted(a.get_variable_to_shape_map())
  assert names == sorted(b.get_variable_to_shape_map())
  assert any("dynamic_scale" in n for n in names) == (name == "mixed_float16")
  for n in names:
    if n == "_CHECKPOINTABLE_OBJECT_GRAPH" or n.startswith(
        ("run_config/", "save_counter/")):
      continue
    np.testing.assert_array_equal(a.get_tensor(n), b.get_tensor(n), err_msg=n)


@pytest.mark.slow
def test_float16_skips_and_counts_under_a_mirrored_strategy(
    tmp_path, monkeypatch):
  assert len(tf.config.list_logical_devices("CPU")) == 2
  monkeypatch.setattr(precision, "wrap_optimizer", starting_scale(2.0**100))
  cfg = helpers.train_config(tmp_path,
                             max_number_of_steps=3,
                             precision="mixed_float16",
                             distribution_strategy="mirrored",
                             use_mentornet=True,
                             example_dropout_rates="0.0,100")
  assert np.isfinite(training.run(cfg)["total_loss"])
  reader = tf.train.load_checkpoint(str(tmp_path / "run" / "model.ckpt-3"))
  assert reader.get_tensor(
      "optimizer/dynamic_scale/.ATTRIBUTES/VARIABLE_VALUE") == 2.0**97
  assert reader.get_tensor(
      "optimizer/inner_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 3


def test_a_mentormix_run_trains_in_bfloat16(tmp_path):
  cfg = helpers.train_config(tmp_path,
                             use_mentormix=True,
                             trained_mentornet_dir=str(helpers.REPO /
                                                       helpers.PD),
                             studentnet="resnet101",
                             num_residual_units=1,
                             resnet_widths=(16, 32, 64),
                             max_number_of_steps=2,
                             example_dropout_rates="0.0,100",
                             ema_decay=0.99,
                             precision="mixed_bfloat16")
  metrics = training.run(cfg)
  assert np.isfinite(metrics["total_loss"])
  reader = tf.train.load_checkpoint(str(tmp_path / "run" / "model.ckpt-2"))
  dtypes = reader.get_variable_to_dtype_map()
  averaged = [n for n in dtypes if n.startswith("weight_average/")]
  assert averaged and {dtypes[n] for n in averaged} == {tf.float32}
  assert {dtypes[n] for n in dtypes if n.startswith("model/")
         } <= {tf.float32, tf.int64}


def test_composite_lrn_runs_a_script_with_float32_cifarnet_on_the_formula(
    tmp_path):
  """benchmarks/composite_lrn.py (the round-off-only contender of
  benchmarks/precision_quickstart.sh): the script it runs builds a float32
  `inception` whose LRN layers use the composite formula, and sees its own
  arguments; without a script it stops with its usage line."""
  script = tmp_path / "show.py"
  script.write_text(
      "import sys\n"
      "from mentornet import config\n"
      "from mentornet.models import students\n"
      "model = students.build_for(config.ModelConfig(studentnet='inception'),"
      " 'cifar10')\n"
      "print(sys.argv[1:], [layer.exact for layer in model.layers"
      " if layer.name.startswith('norm')])\n")
  wrapper = helpers.REPO / "benchmarks" / "composite_lrn.py"
  shown = helpers.run_file(wrapper, script, "--flag=1")
  assert shown.returncode == 0, shown.stderr
  assert shown.stdout.strip() == "['--flag=1'] [False, False]"
  plain = students.build_for(config.ModelConfig(studentnet="inception"),
                             "cifar10")
  assert [l.exact for l in plain.layers if l.name.startswith("norm")
         ] == [True, True]
  usage = helpers.run_file(wrapper)
  assert usage.returncode == 1
  assert usage.stderr.strip() == (
      "usage: python benchmarks/composite_lrn.py SCRIPT.py [FLAGS...]")
