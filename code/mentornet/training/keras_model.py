"""MentorNet for any Keras classifier: `model.fit` with a curriculum.

`MentorNetModel` wraps a Keras model of your own (inputs to logits or
probabilities) and trains it with `fit`, every example's loss weighted by a
frozen MentorNet, exactly as the scripts' training loop weights it (both run
`training.step.train_step`):

    model = keras_model.MentorNetModel(
        student, mentornet="mentornet_models/models/mentornet_pd1_g_1/"
        "mentornet_pd", loss_p_percentile=0.75,
        example_dropout_rates="0.5,17,0.05,83")
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=None), metrics=["accuracy"])
    model.fit(train_dataset, epochs=10)

The loss must give one value per example (any Keras loss with
`reduction=None`, or a function of `(y_true, y_pred)` returning `[batch]`),
so sparse or one-hot labels, label smoothing and custom losses all work. The
progress bar and the `TensorBoard` callback show `loss` (the mean loss, every
example counted), `weighted_loss` (`sum(v * loss) / B`, what is minimised
besides regularisation), `data_util` (fraction of examples the curriculum
used), `mean_weight`, and for a MentorNet the batch-loss `percentile_loss`
and its `moving_average`, plus the compiled metrics. The curriculum's moving
average is a Keras weight of the model: `save_weights`, `ModelCheckpoint` and
`BackupAndRestore` keep it with the optimizer's step count, so an interrupted
`fit` resumes exactly (at the last backed-up epoch, for data whose batches
repeat each epoch). Build the model inside `strategy.scope()` to train under a
`tf.distribute` strategy; `compile(jit_compile=True)` compiles each step with
XLA.

Mixed precision: build the student inside `models.precision.scope(
"mixed_bfloat16")` (or "mixed_float16"); `MentorNetModel` takes its precision
(the `precision` argument, if given, must name it). The losses, the
curriculum and its weights stay float32, and `compile` wraps the optimizer in
Keras' `LossScaleOptimizer` for "mixed_float16".
"""

import os

import keras
import tensorflow as tf

from mentornet import errors
from mentornet import config as config_lib
from mentornet.curriculum import evidence
from mentornet.curriculum import factory
from mentornet.curriculum import layers
from mentornet.models import mentor
from mentornet.models import precision as precision_lib
from mentornet.training import fit_inputs
from mentornet.training import fit_metrics
from mentornet.training import step as step_lib

CURRICULUM_METRICS = fit_metrics.CURRICULUM_METRICS
NOISE_METRICS = fit_metrics.NOISE_METRICS


def _check_arguments(regularization, curriculum, mentornet):
  if regularization not in config_lib.REGULARIZATIONS:
    raise errors.BadInput(
        f"regularization '{regularization}' is unknown; choose one of "
        f"{', '.join(config_lib.REGULARIZATIONS)}")
  if curriculum is not None and mentornet is not None:
    raise errors.BadInput("give MentorNetModel a mentornet or a curriculum, "
                          "not both")


def _student_precision(student, precision):
  """The precision a MentorNetModel trains `student` at: the one it was
  built with, which `precision`, when given, must name (one warning line
  when this machine has no fast path for it)."""
  built = precision_lib.policy_of(student)
  precision_lib.warn_if_slow(built)
  if precision is None:
    return built
  precision_lib.check(precision)
  if precision != built:
    raise errors.BadInput(
        f"precision={precision!r}, but the student computes in "
        f"{student.compute_dtype} ({built}); build it inside "
        f"mentornet.models.precision.scope({precision!r})")
  return precision


@keras.saving.register_keras_serializable(package="mentornet")
class MentorNetModel(keras.Model):
  """Trains a Keras model with per-example weights from a frozen MentorNet.

  Attributes:
    student: the wrapped model; `model(x)` is `student(x)`.
    curriculum: the `curriculum.MentorNetCurriculum` (or
      `UniformCurriculum`) that weighs each batch; its `moving_average` is
      saved with the model.
    regularization: how the student's `losses` enter the minimised loss.
  """

  def __init__(self,
               student,
               mentornet=None,
               *,
               curriculum=None,
               max_number_of_steps=None,
               seed=0,
               regularization=config_lib.REGULARIZATION_ADDED,
               precision=None,
               num_examples=None,
               **kwargs):
    """Wraps `student`; the curriculum settings are the scripts' flags.

    Args:
      student: a Keras model from inputs to logits or probabilities.
      mentornet: a `mentor.MentorNet`, or the path of a checkpoint (a
        shipped curriculum, one learned with `code/training_mentornet/`, or
        an original TF1 checkpoint). None with no `curriculum`: the
        baseline, every weight 1.
      curriculum: instead of `mentornet` and the settings, a ready
        curriculum layer.
      max_number_of_steps: total training steps, which define MentorNet's
        progress epoch; None: `epochs x steps per epoch` of the first `fit`.
      seed: seed of the example drop-out.
      regularization: how the student's `losses` (e.g. kernel regularizers)
        enter the loss: "added" (Keras' way), "scaled_by_weights" (times
        `sum(v) / B`, the original resnet script) or "none".
      precision: one of `config.PRECISIONS`, the one the student was
        built with (None: that one); see `models.precision`.
      num_examples: N, to keep the label evidence of examples whose labels
        come as {"label", "id"} with ids in [0, N) (`label_table`).
      **kwargs: the curriculum settings of `config.CurriculumConfig` (its
        defaults apply) and `keras.Model` arguments such as `name`.

    Raises ValueError / FileNotFoundError: a bad argument or MentorNet path.
    """
    settings = {
        k: kwargs.pop(k)
        for k in list(kwargs)
        if k in config_lib.CURRICULUM_FIELDS
    }
    self.precision = _student_precision(student, precision)
    super().__init__(dtype=self.precision, **kwargs)
    _check_arguments(regularization, curriculum, mentornet)
    settings.pop("trained_mentornet_dir", None)  # the MentorNet is given
    # What `get_config` needs to build this model again (`.keras` files).
    self._curriculum_args = dict(settings, seed=seed)
    self._mentornet_path = None
    if curriculum is None:
      curriculum = self._first_curriculum(mentornet, max_number_of_steps)
    self.curriculum = curriculum
    self.label_evidence = (evidence.LabelEvidence(num_examples)
                           if num_examples is not None else None)
    self.student = student
    self.regularization = regularization
    self._per_example_loss = None
    self._trackers = fit_metrics.trackers(self.curriculum.STATS)
    if student.built:
      self.built = True

  def _first_curriculum(self, mentornet, max_number_of_steps):
    """The curriculum of `mentornet` (an object or a checkpoint path,
    which `get_config` keeps), or uniform without one."""
    if isinstance(mentornet, (str, bytes)) or hasattr(mentornet, "__fspath__"):
      self._mentornet_path = os.fsdecode(mentornet)
      mentornet = mentor.load_mentornet(self._mentornet_path)
    return self._make_curriculum(mentornet, max_number_of_steps, factory.FIRST)

  def _make_curriculum(self, mentornet, max_number_of_steps, role):
    """A curriculum of this model (`curriculum.factory`, as the scripts'):
    the MentorNet's, or uniform without one."""
    kind = (factory.UNIFORM
            if mentornet is None else config_lib.CURRICULUM_MENTORNET)
    return factory.make(kind,
                        mentornet=mentornet,
                        max_number_of_steps=max_number_of_steps,
                        role=role,
                        **self._curriculum_args)

  def get_config(self):
    """Config for whole-model saving (`.keras`, `ModelCheckpoint`).

    Raises:
      NotImplementedError: the MentorNet was given as an object or a ready
        curriculum, so there is no path to load it from again.
    """
    uniform = isinstance(self.curriculum, layers.UniformCurriculum)
    if self._mentornet_path is None and not uniform:
      raise NotImplementedError(
          "a MentorNetModel can be saved whole only when its MentorNet was "
          "given as a checkpoint path; save weights instead (a "
          ".weights.h5 file, ModelCheckpoint(save_weights_only=True))")
    config = {
        "name": self.name,
        "regularization": self.regularization,
        "precision": self.precision,
        "num_examples": (self.label_evidence.num_examples
                         if self.label_evidence is not None else None),
        "student": keras.saving.serialize_keras_object(self.student),
        "mentornet": self._mentornet_path,
        **self._curriculum_args
    }
    if not uniform:
      config["max_number_of_steps"] = self.curriculum.max_number_of_steps
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    student = keras.saving.deserialize_keras_object(config.pop("student"))
    return cls(student, config.pop("mentornet"), **config)

  def build(self, input_shape):
    if not self.student.built:
      self.student.build(input_shape)

  def call(self, inputs, training=None):
    return self.student(inputs, training=training)

  def compile(self, optimizer="rmsprop", loss=None, **kwargs):
    """`keras.Model.compile`; `loss` must give one value per example."""
    self._per_example_loss = fit_inputs.per_example_loss_fn(loss)
    super().compile(optimizer=optimizer, loss=loss, **kwargs)

  def compile_from_config(self, config):
    """Compiles a model loaded from a `.keras` file as it was saved."""
    self.compile(**keras.saving.deserialize_keras_object(config))
    if self.built:
      self.optimizer.build(self.trainable_variables)

  def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
    """`keras.Model.fit`; the first call fixes the curriculum's total steps.

    Unless `max_number_of_steps` was given, the progress epoch is defined
    by `epochs x steps per epoch` of this call.
    """
    unset = [
        c for c in self.curricula()
        if getattr(c, "max_number_of_steps", 0) is None
    ]
    if unset:
      steps = fit_inputs.steps_per_epoch(x, batch_size,
                                         kwargs.get("steps_per_epoch"),
                                         kwargs.get("validation_split", 0.0))
      if steps is None:
        raise errors.BadInput(
            "cannot tell how many steps this fit takes (the dataset's length "
            "is unknown); give MentorNetModel max_number_of_steps, or fit "
            "steps_per_epoch")
      for curriculum in unset:
        curriculum.set_max_number_of_steps(epochs * steps)
    if isinstance(x, tf.data.Dataset):
      kwargs.setdefault("shuffle", False)  # a dataset shuffles itself
    return super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)

  def curricula(self):
    """The curriculum layers this model trains with."""
    return [self.curriculum]

  def compute_loss(self,
                   x=None,
                   y=None,
                   y_pred=None,
                   sample_weight=None,
                   training=True):
    """Keras' compiled loss (Keras calls it once to build the compiled loss
    from a sample batch); labels with clean labels give it "label"."""
    return super().compute_loss(x,
                                fit_inputs.split_clean_labels(y)[0], y_pred,
                                sample_weight, training)

  def _example_losses(self, y, y_pred, sample_weight):
    if self._per_example_loss is None:
      raise errors.BadInput("compile the MentorNetModel with a loss before fit")
    values = self._per_example_loss(y, y_pred, sample_weight=sample_weight)
    return fit_inputs.check_per_example(
        values, getattr(self._per_example_loss, "name", "function"))

  def train_step(self, data):
    """One step of `training.step.train_step`, the scripts' step.

    `y` may be a dict {"label": ..., "clean_label": ...} (as
    `inputs.supervised_dataset(..., clean_labels=True)` gives): the loss and
    the compiled metrics see "label", and the noise metrics are reported.
    """
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    y, clean, ids = fit_inputs.split_labels(y)
    self._check_ids(ids)
    result = step_lib.train_step(
        self,
        self.optimizer,
        self.curriculum,
        x,
        y,
        clean,
        regularization=self.regularization,
        loss_fn=lambda labels, predictions: self._example_losses(
            labels, predictions, sample_weight),
        evidence=self.label_evidence,
        ids=ids)
    return self._report(result, x, y, clean, sample_weight)

  def _check_ids(self, ids):
    """Labels with ids need a model that keeps the label evidence (the step
    adds to it, `step.keep_evidence`)."""
    if ids is not None and self.label_evidence is None:
      raise errors.BadInput(
          "the labels carry 'id', but this model keeps no label evidence: "
          "give it num_examples=N (ids in [0, N))")

  def label_table(self, by="auto"):
    """The label evidence kept by `fit`, most suspicious first (see
    `evaluation.label_issues`): {"rank", "id", "seen", "mean_weight",
    "mean_loss"}, NumPy arrays of N entries (id: the example's id).

    Args:
      by: "mean_weight", "mean_loss", or "auto" (the mean weight with a
        curriculum, the mean loss without).
    """
    if self.label_evidence is None:
      raise errors.BadInput("this model keeps no label evidence: give it "
                            "num_examples=N and fit labels {'label', 'id'}")
    if by == "auto":
      by = ("mean_loss" if isinstance(self.curriculum, layers.UniformCurriculum)
            else "mean_weight")
    table = evidence.ranked(self.label_evidence.numpy(), by)
    table["id"] = table.pop("row")
    return table

  def _report(self, result, x, y, clean, sample_weight):
    """The step's logs: the curriculum's and noise trackers updated from a
    step's `StepResult`, then the compiled metrics on its predictions."""
    fit_metrics.update_curriculum_trackers(self._trackers,
                                           self._metric_named("loss"), result)
    if clean is not None:
      fit_metrics.update_noise_trackers(self._trackers,
                                        result.curriculum_weights,
                                        step_lib.class_ids(y), clean)
    results = self.compute_metrics(x,
                                   y,
                                   result.predictions,
                                   sample_weight=sample_weight)
    if clean is None:
      results = {k: v for k, v in results.items() if k not in NOISE_METRICS}
    return results

  def _metric_named(self, name):
    """The metric object named `name` ("loss" is Keras' own)."""
    return next(m for m in self.metrics if m.name == name)

  def test_step(self, data):
    """Mean loss (every example counted) and the compiled metrics."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    y, _ = fit_inputs.split_clean_labels(y)
    y_pred = self(x, training=False)
    self._metric_named("loss").update_state(
        tf.cast(self._example_losses(y, y_pred, sample_weight), tf.float32))
    results = self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
    return {
        k: v
        for k, v in results.items()
        if k not in CURRICULUM_METRICS + NOISE_METRICS
    }
