"""The "inception" StudentNet: the small CifarNet of the original
`inception_model.py`.

conv 5x5x64 ReLU, max-pool 2x2/2, LRN, conv 5x5x64 ReLU, LRN, max-pool 2x2/2,
fc 384 ReLU, dropout (keep 0.8) at training, fc 192 ReLU, fc logits.
"""

import keras
from keras import layers
import tensorflow as tf

FC_WEIGHT_DECAY = 0.004


class LocalResponseNormalization(layers.Layer):
  """tf.nn.local_response_normalization with the original CifarNet settings."""

  def call(self, x):
    return tf.nn.local_response_normalization(x,
                                              depth_radius=4,
                                              bias=1.0,
                                              alpha=0.001 / 9.0,
                                              beta=0.75)


def _fc(x, units, name, stddev, bias, decay, activation="relu"):
  return layers.Dense(
      units,
      activation=activation,
      name=name,
      kernel_initializer=keras.initializers.TruncatedNormal(stddev=stddev),
      bias_initializer=keras.initializers.Constant(bias),
      # tf.nn.l2_loss is sum(w^2) / 2; Keras' L2 is l2 * sum(w^2).
      kernel_regularizer=keras.regularizers.L2(decay / 2) if decay else None)(x)


def cifarnet(num_classes, image_size=32):
  """Builds CifarNet; returns a Keras model from images to logits."""
  # A new initializer per layer: a Keras initializer object draws the same
  # numbers every time it is called, so sharing one would start conv2 with
  # conv1's values.
  conv_init = lambda: keras.initializers.TruncatedNormal(stddev=0.05)
  images = keras.Input((image_size, image_size, 3), name="images")
  x = layers.Conv2D(64,
                    5,
                    padding="same",
                    activation="relu",
                    kernel_initializer=conv_init(),
                    name="conv1")(images)
  x = layers.MaxPooling2D(2, 2, name="pool1")(x)
  x = LocalResponseNormalization(name="norm1")(x)
  x = layers.Conv2D(64,
                    5,
                    padding="same",
                    activation="relu",
                    kernel_initializer=conv_init(),
                    name="conv2")(x)
  x = LocalResponseNormalization(name="norm2")(x)
  x = layers.MaxPooling2D(2, 2, name="pool2")(x)
  x = layers.Flatten(name="flatten")(x)
  x = _fc(x, 384, "fc3", 0.04, 0.1, FC_WEIGHT_DECAY)
  x = layers.Dropout(0.2, name="dropout3")(x)
  x = _fc(x, 192, "fc4", 0.04, 0.1, FC_WEIGHT_DECAY)
  logits = _fc(x, num_classes, "logits", 1 / 192.0, 0.0, None, activation=None)
  return keras.Model(images, logits, name="cifarnet")
