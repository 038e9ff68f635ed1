"""The "inception" StudentNet: the small CifarNet of the original
`inception_model.py`.

conv 5x5x64 ReLU, max-pool 2x2/2, LRN, conv 5x5x64 ReLU, LRN, max-pool 2x2/2,
fc 384 ReLU, dropout (keep 0.8) at training, fc 192 ReLU, fc logits.

Under a mixed precision (`models.precision`) the convolutions and fully
connected layers compute in bfloat16 or float16; the local response
normalisations and the logits layer stay float32. TensorFlow's LRN kernel
has no bfloat16 CPU kernel and is slow, so a mixed-precision CifarNet
normalises with the same formula written as float32 ops (a band-matrix
product for the window sums, `rsqrt` for the power 3/4), equal to the kernel
up to float32 round-off and 3 times faster, forward and backward; float32
keeps the original's kernel, so its results stay bit for bit the original's.
"""

import keras
from keras import layers
import tensorflow as tf

FC_WEIGHT_DECAY = 0.004

DEPTH_RADIUS, BIAS, ALPHA, BETA = 4, 1.0, 0.001 / 9.0, 0.75


class LocalResponseNormalization(layers.Layer):
  """tf.nn.local_response_normalization with the original CifarNet settings:
  `x / (BIAS + ALPHA * sum of x^2 over the DEPTH_RADIUS channels each side)
  ** BETA`, computed in float32.

  `exact`: TensorFlow's kernel (the original's op), or the same formula as
  float32 ops (`composite_lrn`), which mixed precision uses.
  """

  def __init__(self, exact=True, **kwargs):
    kwargs["dtype"] = "float32"  # an island at every precision
    super().__init__(**kwargs)
    self.exact = exact

  def call(self, x):
    if self.exact:
      return tf.nn.local_response_normalization(x,
                                                depth_radius=DEPTH_RADIUS,
                                                bias=BIAS,
                                                alpha=ALPHA,
                                                beta=BETA)
    return composite_lrn(x)

  def get_config(self):
    return {**super().get_config(), "exact": self.exact}


def composite_lrn(x):
  """CifarNet's LRN as float32 ops: window sums of squares by a band-matrix
  product over channels, and `d ** -0.75 = rsqrt(d) * sqrt(rsqrt(d))`."""
  channels = x.shape[-1]
  index = tf.range(channels)
  band = tf.cast(
      tf.abs(index[:, None] - index[None, :]) <= DEPTH_RADIUS, x.dtype)
  sums = tf.reshape(tf.matmul(tf.reshape(tf.square(x), [-1, channels]), band),
                    tf.shape(x))
  inverse_root = tf.math.rsqrt(BIAS + ALPHA * sums)
  return x * inverse_root * tf.sqrt(inverse_root)


def _fc(x, units, name, stddev, bias, decay, activation="relu", dtype=None):
  return layers.Dense(
      units,
      activation=activation,
      name=name,
      dtype=dtype,
      kernel_initializer=keras.initializers.TruncatedNormal(stddev=stddev),
      bias_initializer=keras.initializers.Constant(bias),
      # tf.nn.l2_loss is sum(w^2) / 2; Keras' L2 is l2 * sum(w^2).
      kernel_regularizer=keras.regularizers.L2(decay / 2) if decay else None)(x)


def cifarnet(num_classes, image_size=32, exact_lrn=True):
  """Builds CifarNet; returns a Keras model from images to float32 logits.

  `exact_lrn`: normalise with TensorFlow's LRN kernel (float32, the
  original's) or with `composite_lrn` (mixed precision).
  """
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
  x = LocalResponseNormalization(exact_lrn, name="norm1")(x)
  x = layers.Conv2D(64,
                    5,
                    padding="same",
                    activation="relu",
                    kernel_initializer=conv_init(),
                    name="conv2")(x)
  x = LocalResponseNormalization(exact_lrn, name="norm2")(x)
  x = layers.MaxPooling2D(2, 2, name="pool2")(x)
  x = layers.Flatten(name="flatten")(x)
  x = _fc(x, 384, "fc3", 0.04, 0.1, FC_WEIGHT_DECAY)
  x = layers.Dropout(0.2, name="dropout3")(x)
  x = _fc(x, 192, "fc4", 0.04, 0.1, FC_WEIGHT_DECAY)
  logits = _fc(x,
               num_classes,
               "logits",
               1 / 192.0,
               0.0,
               None,
               activation=None,
               dtype="float32")
  return keras.Model(images, logits, name="cifarnet")
