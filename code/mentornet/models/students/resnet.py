"""The "resnet101" and "resnet32" StudentNets: pre-activation wide ResNets,
as the original MentorNet's and MentorMix's `resnet_model.py`.

Initial 3x3 conv to 16 channels, three stages of `num_residual_units` basic
units of widths `widths` and strides (1, 2, 2), then BN, leaky ReLU, global
average pooling and a fully connected layer. Leaky ReLU slope 0.1, BN epsilon
0.001 and moving-average decay 0.9, conv kernels N(0, 2 / (k * k * out)), fc
uniform unit scaling, weight decay 0.0002 * l2_loss on conv and fc kernels.
Under a mixed precision the convolutions compute in bfloat16 or float16;
batch normalisation (Keras') and the logits layer in float32.
"""

import math

import keras
from keras import layers
import tensorflow as tf

from mentornet import errors

WEIGHT_DECAY = 0.0002
LEAKINESS = 0.1
STRIDES = (1, 2, 2)


def _decay():
  # tf.nn.l2_loss is sum(w^2) / 2; Keras' L2 is l2 * sum(w^2).
  return keras.regularizers.L2(WEIGHT_DECAY / 2)


def _conv(x, filters, stride, name):
  init = keras.initializers.RandomNormal(stddev=math.sqrt(2.0 / (9 * filters)))
  return layers.Conv2D(filters,
                       3,
                       strides=stride,
                       padding="same",
                       use_bias=False,
                       kernel_initializer=init,
                       kernel_regularizer=_decay(),
                       name=name)(x)


def _bn(x, name):
  return layers.BatchNormalization(momentum=0.9, epsilon=0.001, name=name)(x)


def _relu(x):
  return layers.LeakyReLU(negative_slope=LEAKINESS)(x)


class ChannelPad(layers.Layer):
  """Zero-pads the channel axis: `before` channels in front, `after` behind."""

  def __init__(self, before, after, **kwargs):
    super().__init__(**kwargs)
    self.before, self.after = before, after

  def call(self, x):
    return tf.pad(x, [[0, 0], [0, 0], [0, 0], [self.before, self.after]])

  def compute_output_shape(self, input_shape):
    return (*input_shape[:3], input_shape[3] + self.before + self.after)

  def get_config(self):
    return {**super().get_config(), "before": self.before, "after": self.after}


def _shortcut(x, in_filters, out_filters, stride):
  """Average pool with the stride, then zero-pad channels half each side."""
  if in_filters == out_filters:
    return x
  if stride > 1:
    x = layers.AveragePooling2D(stride, stride, padding="valid")(x)
  pad = (out_filters - in_filters) // 2
  return ChannelPad(pad, out_filters - in_filters - pad)(x)


def _residual_unit(x, in_filters, out_filters, stride, first_of_network, name):
  if first_of_network:
    # The original's exception: activation, then BN, and the shortcut after.
    x = _bn(_relu(x), f"{name}_init_bn")
    shortcut = x
  else:
    shortcut = x
    x = _relu(_bn(x, f"{name}_init_bn"))
  x = _conv(x, out_filters, stride, f"{name}_conv1")
  x = _relu(_bn(x, f"{name}_bn2"))
  x = _conv(x, out_filters, 1, f"{name}_conv2")
  return layers.Add()([x, _shortcut(shortcut, in_filters, out_filters, stride)])


def wide_resnet(num_classes,
                num_residual_units,
                widths,
                image_size=32,
                init_width=16,
                name="resnet101"):
  """Builds the wide ResNet; returns a Keras model from images to logits.

  `resnet101` is MentorNet's (an initial conv to 16 channels, 9 units per
  stage of widths 160, 320, 640); `resnet32` is MentorMix's (`resnet_model.py`
  of mentormix: an initial conv to 64 channels, 5 units per stage of widths
  128, 256, 512). Both have the same units, shortcuts and head.
  """
  if num_residual_units < 1 or len(widths) != 3 or min(widths) < 16:
    raise errors.BadInput(
        f"{name} needs num_residual_units >= 1 and three stage "
        f"widths >= 16, got {num_residual_units} and {widths}")
  images = keras.Input((image_size, image_size, 3), name="images")
  x = _conv(images, init_width, 1, "init_conv")
  in_filters = init_width
  for stage, (width, stride) in enumerate(zip(widths, STRIDES), 1):
    for unit in range(num_residual_units):
      x = _residual_unit(x, in_filters, width, stride if unit == 0 else 1,
                         stage == 1 and unit == 0, f"unit_{stage}_{unit}")
      in_filters = width
  x = _relu(_bn(x, "final_bn"))
  x = layers.GlobalAveragePooling2D()(x)
  logits = layers.Dense(
      num_classes,
      name="logit",
      dtype="float32",  # at every precision
      kernel_initializer=keras.initializers.VarianceScaling(
          1.0, mode="fan_in", distribution="uniform"),
      kernel_regularizer=_decay())(x)
  return keras.Model(images, logits, name=name)
