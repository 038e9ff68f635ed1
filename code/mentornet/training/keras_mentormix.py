"""MentorMix for any Keras classifier: `model.fit` with curriculum-led mixup.

`MentorMixModel` is `MentorNetModel` whose `fit` runs MentorMix's step
(`training.step.mentormix_step`, the same one `cifar_train_mentormix.py`
runs): weights from a first pass, mixup guided by them, a second pass on the
mixed batch, optionally weighted again:

    model = keras_mentormix.MentorMixModel(
        student, "mentornet_models/models/mentornet_pd1_g_1/mentornet_pd",
        mixup_alpha=8.0, second_reweight=False, loss_p_percentile=0.6,
        burn_in_epoch=10, example_dropout_rates="0.0,100")
    model.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(
        from_logits=True, reduction=None), metrics=["accuracy"])
    model.fit(train_dataset, epochs=10)

Mixed labels are soft, so the loss must take one-hot (or soft) labels, one
value per example; sparse labels given to `fit` are made one-hot. The
metrics are `MentorNetModel`'s; the noise metrics describe the first
weighting. The original's averaged weights for evaluation are the scripts'
(`ema_decay`); with Keras, use the optimizer's `use_ema`.
"""

import keras
import tensorflow as tf

from mentornet import errors
from mentornet import config as config_lib
from mentornet.curriculum import factory
from mentornet.curriculum import layers
from mentornet.training import fit_inputs
from mentornet.training import keras_model
from mentornet.training import step as step_lib

MENTORMIX_NO_XLA = (
    "MentorMix does not run under XLA (jit_compile): its mixup draws "
    "(stateless categorical and Beta) differ when compiled, so the run would "
    "not draw as an uncompiled one; train it without jit_compile")


@keras.saving.register_keras_serializable(package="mentornet")
class MentorMixModel(keras_model.MentorNetModel):
  """Trains a Keras model with MentorMix.

  Attributes:
    mixed_curriculum: the second weighting (its own moving average, "mixed")
      with `second_reweight`, else uniform.
    mixup_alpha: the Beta distribution's parameter (0: no mixup).
  """

  def __init__(self,
               student,
               mentornet=None,
               *,
               mixup_alpha=8.0,
               second_reweight=True,
               regularization=None,
               **kwargs):
    """Wraps `student` as `MentorNetModel` does; a MentorNet is required.

    Args:
      student: a Keras model from inputs to logits or probabilities.
      mentornet: a `mentor.MentorNet` or a checkpoint path.
      mixup_alpha: alpha of the Beta distribution of the mixing factor.
      second_reweight: weigh the mixed examples again.
      regularization: how the student's `losses` enter the loss; by default
        as the original MentorMix script: "none" with `second_reweight`
        (its decay term there was an empty regularisation loss), else
        "added".
      **kwargs: `MentorNetModel`'s (curriculum settings, `seed`,
        `max_number_of_steps`, `name`, ...).
    """
    if regularization is None:
      regularization = (config_lib.REGULARIZATION_NONE
                        if second_reweight else config_lib.REGULARIZATION_ADDED)
    super().__init__(student,
                     mentornet,
                     regularization=regularization,
                     **kwargs)
    if not isinstance(self.curriculum, layers.MentorNetCurriculum):
      raise errors.BadInput(
          "MentorMixModel weighs with a MentorNet: give it one "
          "(a checkpoint path or a MentorNet)")
    if not mixup_alpha >= 0:
      raise errors.BadInput(f"mixup_alpha {mixup_alpha} must be a number >= 0")
    self.mixup_alpha = float(mixup_alpha)
    self.second_reweight = bool(second_reweight)
    self.mixed_curriculum = self._make_curriculum(
        self.curriculum.mentornet if self.second_reweight else None,
        self.curriculum.max_number_of_steps, factory.MIXED)

  def compile(self, optimizer="rmsprop", loss=None, **kwargs):
    """`MentorNetModel.compile`; never XLA (`jit_compile`), whose stateless
    categorical and Beta draws differ from the uncompiled ones, so a
    compiled step would not mix as the script does."""
    if kwargs.get("jit_compile") is True:
      raise errors.BadInput(MENTORMIX_NO_XLA)
    kwargs["jit_compile"] = False
    super().compile(optimizer=optimizer, loss=loss, **kwargs)

  def get_config(self):
    return {
        **super().get_config(), "mixup_alpha": self.mixup_alpha,
        "second_reweight": self.second_reweight
    }

  def curricula(self):
    return [self.curriculum, self.mixed_curriculum]

  def train_step(self, data):
    """One step of `training.step.mentormix_step`, the script's step."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    y, clean, ids = fit_inputs.split_labels(y)
    self._check_ids(ids)
    result = step_lib.mentormix_step(
        self,
        self.optimizer,
        self.curriculum,
        self.mixed_curriculum,
        x,
        self._one_hot(y),
        clean,
        regularization=self.regularization,
        mixup_alpha=self.mixup_alpha,
        seed=self._curriculum_args["seed"],
        loss_fn=lambda labels, predictions: self._example_losses(
            labels, predictions, sample_weight),
        evidence=self.label_evidence,
        ids=ids)
    return self._report(result, x, y, clean, sample_weight)

  def _one_hot(self, labels):
    """One-hot float labels from sparse ([b] or [b, 1]) or one-hot ones."""
    classes = self.student.output_shape[-1]
    if labels.shape.rank == 1 or labels.shape[-1] == 1:
      return tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int64), classes)
    return tf.cast(labels, tf.float32)
