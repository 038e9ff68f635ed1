"""The MentorNet network, and saving/loading it from TF2 and original TF1 checkpoints.

MentorNet maps per-example features `[loss, loss_diff, label, epoch]` to a logit
whose sigmoid is the example's weight. The architecture reproduces the original
exactly, quirks included (the original `utils.mentornet_nn`):

* a bidirectional basic LSTM with one unit per direction over a single time step
  whose feature is the CELL state `c` (not `h`), forget bias 0 and zero initial
  state, so `c = sigmoid(i) * tanh(j)`;
* a trainable label embedding and a NON-trainable epoch embedding that keeps its
  random initial value forever;
* the output bias is added to the weight matrix before the last matmul:
  `logit = fc1 @ (W2 + b2)`.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from mentornet import errors
from mentornet.config import NUM_EPOCHS  # rows of the epoch embedding

# Original TF1 variable name -> attribute of `MentorNet` holding it.
TF1_VARIABLE_NAMES = {
    "label_embedding": "mentornet/label_embedding",
    "epoch_embedding": "mentornet/epoch_embedding",
    "fw_kernel": "mentornet/bidirectional_rnn/fw/basic_lstm_cell/kernel",
    "fw_bias": "mentornet/bidirectional_rnn/fw/basic_lstm_cell/bias",
    "bw_kernel": "mentornet/bidirectional_rnn/bw/basic_lstm_cell/kernel",
    "bw_bias": "mentornet/bidirectional_rnn/bw/basic_lstm_cell/bias",
    "fc1_weights": "mentornet/Variable",
    "fc1_bias": "mentornet/Variable_1",
    "fc2_weights": "mentornet/Variable_2",
    "fc2_bias": "mentornet/Variable_3",
}

NUM_LABELS = 2  # rows of the label embedding.


class MentorNet(tf.Module):
  """The MentorNet of the original code, as a `tf.Module`.

  Called on a float32 `[B, 4]` tensor with columns (loss, loss_diff, label,
  epoch) it returns logits `[B, 1]`. Works for any B >= 1.
  """

  def __init__(self,
               label_embedding_size=2,
               epoch_embedding_size=5,
               num_fc_nodes=20,
               seed=None,
               name="mentornet"):
    super().__init__(name=name)
    # One seed stream for all variables: every initializer call advances it,
    # so each variable gets its own draw (as the original's did), and the
    # same `seed` gives the same network. Not an attribute, so it is not
    # part of the checkpoint.
    stream = keras.random.SeedGenerator(seed)
    glorot = lambda: keras.initializers.GlorotUniform(seed=stream)
    normal = lambda: keras.initializers.RandomNormal(stddev=1.0, seed=stream)
    feat_size = label_embedding_size + epoch_embedding_size + 2

    def var(init, shape, vname, trainable=True):
      return tf.Variable(init()(shape, dtype=tf.float32),
                         trainable=trainable,
                         name=vname)

    self.label_embedding = var(glorot, [NUM_LABELS, label_embedding_size],
                               "label_embedding")
    # Not trainable in the original: it stays at its random initial value.
    self.epoch_embedding = var(glorot, [NUM_EPOCHS, epoch_embedding_size],
                               "epoch_embedding",
                               trainable=False)
    zeros = keras.initializers.Zeros
    # Basic LSTM cell kernels: rows are [loss, loss_diff, h], columns (i,j,f,o).
    self.fw_kernel = var(glorot, [3, 4], "fw_kernel")
    self.fw_bias = var(zeros, [4], "fw_bias")
    self.bw_kernel = var(glorot, [3, 4], "bw_kernel")
    self.bw_bias = var(zeros, [4], "bw_bias")
    self.fc1_weights = var(normal, [feat_size, num_fc_nodes], "fc1_weights")
    self.fc1_bias = var(normal, [num_fc_nodes], "fc1_bias")
    self.fc2_weights = var(normal, [num_fc_nodes, 1], "fc2_weights")
    self.fc2_bias = var(normal, [1], "fc2_bias")

  @staticmethod
  def _cell_state(lstm_inputs, kernel, bias):
    """Cell state of a basic LSTM cell after one step from a zero state."""
    # The h0 row of the kernel multiplies zeros, so only the input rows matter.
    gates = tf.matmul(lstm_inputs, kernel[:2]) + bias
    i, j, _, _ = tf.split(gates, 4, axis=1)
    return tf.sigmoid(i) * tf.tanh(j)

  def __call__(self, inputs):
    """Returns MentorNet logits `[B, 1]` for float `[B, 4]` inputs."""
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    lstm_inputs = inputs[:, 0:2]
    # Truncating casts as in the original; out-of-range indices are clipped
    # (the original only clipped epochs from above and crashed otherwise).
    labels = tf.clip_by_value(tf.cast(inputs[:, 2], tf.int32), 0,
                              NUM_LABELS - 1)
    epochs = tf.clip_by_value(tf.cast(inputs[:, 3], tf.int32), 0,
                              NUM_EPOCHS - 1)
    feat = tf.concat([
        tf.gather(self.label_embedding, labels),
        tf.gather(self.epoch_embedding, epochs),
        self._cell_state(lstm_inputs, self.fw_kernel, self.fw_bias),
        self._cell_state(lstm_inputs, self.bw_kernel, self.bw_bias),
    ],
                     axis=1)
    fc1 = tf.tanh(tf.matmul(feat, self.fc1_weights) + self.fc1_bias)
    # The original's quirk: the bias is added to the weight matrix.
    return tf.matmul(fc1, self.fc2_weights + self.fc2_bias)

  def weights(self, inputs):
    """Returns the example weights `sigmoid(logits)`, shape `[B]`."""
    return tf.sigmoid(self(inputs))[:, 0]

  def variable_map(self):
    """Returns {attribute name: tf.Variable} for every MentorNet variable."""
    return {attr: getattr(self, attr) for attr in TF1_VARIABLE_NAMES}


def save_mentornet(net, path):
  """Writes `net` as a TF2 checkpoint at prefix `path`.

  The checkpoint is registered as the latest one of its directory, so that the
  directory can be given to `load_mentornet` instead of the prefix.

  Args:
    net: a `MentorNet`.
    path: checkpoint prefix, e.g. `models/self_paced/model`.

  Returns:
    The prefix written.
  """
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  prefix = tf.train.Checkpoint(mentornet=net).write(path)
  # A relative path keeps the directory loadable after it is moved or cloned.
  tf.compat.v1.train.update_checkpoint_state(directory,
                                             os.path.basename(prefix))
  return prefix


def resolve_checkpoint(path):
  """Returns the checkpoint prefix for a prefix or a directory `path`."""
  if os.path.isdir(path):
    prefix = tf.train.latest_checkpoint(path)
    if prefix is None:
      indexes = sorted(f for f in os.listdir(path) if f.endswith(".index"))
      if not indexes:
        raise errors.MissingInput(f"no checkpoint found in directory {path}")
      prefix = os.path.join(path, indexes[-1][:-len(".index")])
    return prefix
  if not tf.io.gfile.exists(path + ".index"):
    raise errors.MissingInput(
        f"no MentorNet checkpoint at {path} (expected {path}.index, or a "
        "directory holding checkpoints)")
  return path


def checkpoint_dir(path):
  """The directory of a checkpoint given as a directory or a prefix."""
  return path if os.path.isdir(path) else os.path.dirname(path) or "."


def _tf2_key(attr, scope="mentornet"):
  return f"{scope}/{attr}/.ATTRIBUTES/VARIABLE_VALUE"


def read_mentornet_variables(path):
  """Reads MentorNet variable values from a TF2 or original TF1 checkpoint.

  Args:
    path: checkpoint prefix or directory.

  Returns:
    {attribute name: np.ndarray}.

  Raises:
    FileNotFoundError: no checkpoint at `path`.
    ValueError: the checkpoint lacks a MentorNet variable.
  """
  prefix = resolve_checkpoint(path)
  try:
    reader = tf.train.load_checkpoint(prefix)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.BadInput(f"cannot read checkpoint {prefix}: {e}") from e
  names = reader.get_variable_to_shape_map()
  values = {}
  for attr, tf1_name in TF1_VARIABLE_NAMES.items():
    for key in (tf1_name, _tf2_key(attr)):
      if key in names:
        values[attr] = reader.get_tensor(key)
        break
    else:
      raise errors.BadInput(
          f"checkpoint {prefix} has no MentorNet variable {tf1_name} "
          f"(nor {_tf2_key(attr)})")
  return values


def load_mentornet(path, values=None):
  """Loads a MentorNet from a checkpoint prefix or directory.

  Reads this project's checkpoints and the original TF1 name-based ones;
  extra variables (global_step, optimizer slots, StudentNet) are ignored.
  Embedding and layer sizes are taken from the checkpoint's shapes.

  Args:
    path: checkpoint prefix, or a directory (its latest checkpoint is used).
    values: its values as `checked_values(path)` read them (read here when
      None).

  Returns:
    A `MentorNet` holding the checkpoint's values.

  Raises:
    FileNotFoundError: no checkpoint at `path`.
    ValueError: a variable is missing, has an inconsistent shape, or holds
      NaN or Inf.
  """
  values = checked_values(path) if values is None else values
  net = MentorNet(label_embedding_size=values["label_embedding"].shape[-1],
                  epoch_embedding_size=values["epoch_embedding"].shape[-1],
                  num_fc_nodes=values["fc1_bias"].shape[-1])
  for attr, variable in net.variable_map().items():
    value = values[attr]
    if tuple(value.shape) != tuple(variable.shape):
      raise errors.BadInput(
          f"MentorNet variable {TF1_VARIABLE_NAMES[attr]} in {path} has shape "
          f"{list(value.shape)}, expected {variable.shape.as_list()}")
    variable.assign(value)
  return net


def checked_values(path):
  """The MentorNet's values at `path` as float32 arrays, read whole and
  checked finite, without creating any TensorFlow state (so it may run
  before a distribution strategy is set up).

  Raises:
    FileNotFoundError / ValueError: as `load_mentornet`.
  """
  values = {
      k: np.asarray(v, np.float32)
      for k, v in read_mentornet_variables(path).items()
  }
  for attr, value in values.items():
    if not np.all(np.isfinite(value)):
      raise errors.BadInput(f"MentorNet variable {TF1_VARIABLE_NAMES[attr]} in "
                            f"{path} holds NaN or Inf; the MentorNet cannot be "
                            "used (relearn it)")
  return values
