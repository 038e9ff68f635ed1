"""MentorNet network: NumPy reference, TF1 and TF2 checkpoints, errors."""

import numpy as np
import pytest
import tensorflow as tf

from mentornet.models import mentor
from mentor_reference import numpy_mentornet_weights, random_features, random_variables


def write_tf1_checkpoint(values, prefix):
  """Writes a name-based checkpoint as the original TF1 code did."""
  graph = tf.Graph()
  with graph.as_default():
    variables = [
        tf.compat.v1.get_variable(name, initializer=value)
        for name, value in values.items()
    ]
    variables.append(tf.compat.v1.train.get_or_create_global_step())
    variables.append(
        tf.compat.v1.get_variable("mentornet/Variable/Adam",
                                  initializer=np.ones([9, 20], np.float32)))
    saver = tf.compat.v1.train.Saver(variables)
    with tf.compat.v1.Session(graph=graph) as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      return saver.save(sess, prefix, global_step=1234)


def tf1_values(net):
  return {
      mentor.TF1_VARIABLE_NAMES[a]: v.numpy()
      for a, v in net.variable_map().items()
  }


def test_tf1_checkpoint_matches_numpy_reference(tmp_path):
  rng = np.random.default_rng(0)
  values = random_variables(rng)
  prefix = write_tf1_checkpoint(values, str(tmp_path / "mentornet_pd"))
  names = dict(tf.train.list_variables(prefix))
  assert "global_step" in names and "mentornet/Variable/Adam" in names
  for path in (prefix, str(tmp_path)):  # a prefix, or its directory
    net = mentor.load_mentornet(path)
    features = random_features(rng, 4000)
    got = net.weights(features).numpy()
    want = numpy_mentornet_weights(values, features)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_bias_is_added_to_the_weight_matrix():
  net = mentor.MentorNet(seed=1)
  net.fc2_bias.assign([3.0])
  feat_in = np.array([[1.0, -0.5, 0, 7]], np.float32)
  values = tf1_values(net)
  got = net(feat_in).numpy()[0, 0]
  # fc1 @ (W2 + b) = fc1 @ W2 + b * sum(fc1), not fc1 @ W2 + b.
  want = numpy_mentornet_weights(values, feat_in)[0]
  assert 1 / (1 + np.exp(-got)) == pytest.approx(want, abs=1e-6)
  values["mentornet/Variable_3"] = np.zeros(1)
  fc1_times_w2 = np.log(1 / numpy_mentornet_weights(values, feat_in)[0] - 1)
  assert got != pytest.approx(-fc1_times_w2 + 3.0, abs=1e-3)


def test_batch_of_one_and_truncation_and_epoch_clip():
  net = mentor.MentorNet(seed=2)
  values = tf1_values(net)
  one = np.array([[2.5, 0.3, 0.9, 150.7]], np.float32)  # label 0, epoch 99
  assert net(one).shape == (1, 1)
  same = np.array([[2.5, 0.3, 0.0, 99.0]], np.float32)
  np.testing.assert_allclose(net(one).numpy(), net(same).numpy())
  np.testing.assert_allclose(net.weights(one).numpy(),
                             numpy_mentornet_weights(values, one),
                             atol=1e-6)


def test_epoch_embedding_is_not_trainable():
  net = mentor.MentorNet()
  trainable = {v.name for v in net.trainable_variables}
  assert not any("epoch_embedding" in n for n in trainable)
  assert len(net.trainable_variables) == 9
  assert net.epoch_embedding.shape == (100, 5)


def test_own_checkpoint_round_trip(tmp_path):
  net = mentor.MentorNet(label_embedding_size=3, num_fc_nodes=7, seed=3)
  prefix = mentor.save_mentornet(net, str(tmp_path / "m" / "model"))
  features = random_features(np.random.default_rng(1), 100)
  for path in (prefix, str(tmp_path / "m")):
    loaded = mentor.load_mentornet(path)
    np.testing.assert_array_equal(
        loaded(features).numpy(),
        net(features).numpy())
    assert loaded.label_embedding.shape == (2, 3)


def test_missing_path_is_one_clear_error(tmp_path):
  with pytest.raises(FileNotFoundError, match="no MentorNet checkpoint at"):
    mentor.load_mentornet(str(tmp_path / "nothing"))
  with pytest.raises(FileNotFoundError, match="no checkpoint found in dir"):
    mentor.load_mentornet(str(tmp_path))


def test_missing_variable_is_named(tmp_path):
  values = random_variables(np.random.default_rng(0))
  del values["mentornet/Variable_3"]
  prefix = write_tf1_checkpoint(values, str(tmp_path / "partial"))
  with pytest.raises(ValueError,
                     match="no MentorNet variable mentornet/Variable_3"):
    mentor.load_mentornet(prefix)


def test_wrong_shape_is_named(tmp_path):
  values = random_variables(np.random.default_rng(0))
  values["mentornet/Variable_2"] = np.zeros([20, 2], np.float32)
  prefix = write_tf1_checkpoint(values, str(tmp_path / "bad"))
  with pytest.raises(ValueError,
                     match=r"mentornet/Variable_2 .* shape \[20, 2\]"):
    mentor.load_mentornet(prefix)
