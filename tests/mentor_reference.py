"""An independent NumPy reading of the original `utils.mentornet_nn`, used to check the TF MentorNet."""

import numpy as np


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def numpy_mentornet_weights(values, features):
  """Weights sigmoid(MentorNet(features)) from raw variable values.

  Args:
    values: dict keyed by the ORIGINAL TF1 variable names.
    features: [N, 4] array (loss, loss_diff, label, epoch).
  """
  f = np.asarray(features, np.float64)
  n = len(f)
  label = f[:, 2].astype(np.int64)  # truncation toward zero
  epoch = np.minimum(f[:, 3].astype(np.int64), 99)
  x = np.concatenate([f[:, 0:2], np.zeros((n, 1))], axis=1)  # [loss, diff, h0]

  def cell(direction):
    k = values[
        f"mentornet/bidirectional_rnn/{direction}/basic_lstm_cell/kernel"]
    b = values[f"mentornet/bidirectional_rnn/{direction}/basic_lstm_cell/bias"]
    gates = x @ k + b
    i, j = gates[:, 0:1], gates[:, 1:2]
    return sigmoid(i) * np.tanh(j)  # c0 = 0, so the forget gate drops out

  feat = np.concatenate([
      values["mentornet/label_embedding"][label],
      values["mentornet/epoch_embedding"][epoch],
      cell("fw"),
      cell("bw")
  ],
                        axis=1)
  fc1 = np.tanh(feat @ values["mentornet/Variable"] +
                values["mentornet/Variable_1"])
  logit = fc1 @ (values["mentornet/Variable_2"] +
                 values["mentornet/Variable_3"])
  return sigmoid(logit)[:, 0]


def random_variables(rng):
  shapes = {
      "mentornet/label_embedding": [2, 2],
      "mentornet/epoch_embedding": [100, 5],
      "mentornet/bidirectional_rnn/fw/basic_lstm_cell/kernel": [3, 4],
      "mentornet/bidirectional_rnn/fw/basic_lstm_cell/bias": [4],
      "mentornet/bidirectional_rnn/bw/basic_lstm_cell/kernel": [3, 4],
      "mentornet/bidirectional_rnn/bw/basic_lstm_cell/bias": [4],
      "mentornet/Variable": [9, 20],
      "mentornet/Variable_1": [20],
      "mentornet/Variable_2": [20, 1],
      "mentornet/Variable_3": [1],
  }
  return {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}


def random_features(rng, n):
  return np.stack([
      rng.uniform(0, 20, n),
      rng.uniform(-10, 10, n),
      rng.integers(0, 2, n),
      rng.integers(0, 130, n)
  ], 1).astype(np.float32)
