"""What a training run is made of: strategy, StudentNet, schedule, optimizer
and curriculum, built from its configuration."""

import tensorflow as tf

from mentornet import errors
from mentornet import config as config_lib
from mentornet.curriculum import factory
from mentornet.models import mentor
from mentornet.models import optimizers
from mentornet.models import precision
from mentornet.models import students
from mentornet.models import weight_average


def with_rules(config):
  """The config with its StudentNet's rules for its method (the script that
  runs it) filled in where None; the one place they are resolved.

  MentorMix with `second_reweight` adds no weight decay: the original's
  decay term there was `tf.losses.get_regularization_loss()`, empty for its
  ResNet.
  """
  rules = students.rules_for(config.model.studentnet, config.method)
  regularization = rules.regularization
  if config.method == config_lib.MENTORMIX and config.mentormix.second_reweight:
    regularization = config_lib.REGULARIZATION_NONE
  return config.replace(regularization=config.optimization.regularization or
                        regularization,
                        schedule=config.optimization.schedule or rules.schedule)


def make_strategy(name):
  """The tf.distribute strategy named by --distribution_strategy."""
  if name == "mirrored":
    # All GPUs; on a machine without any, all logical CPU devices.
    devices = (tf.config.list_logical_devices("GPU") or
               tf.config.list_logical_devices("CPU"))
    return tf.distribute.MirroredStrategy([d.name for d in devices])
  if name == "multi_worker_mirrored":
    return tf.distribute.MultiWorkerMirroredStrategy()
  return tf.distribute.get_strategy()


def curriculum_kind(config):
  """The kind of curriculum (`curriculum.factory.KINDS`) a run trains with."""
  return config.curriculum.kind if config.weighs_examples else factory.UNIFORM


def make_curriculum(config, checked=None, role=factory.FIRST):
  """The run's curriculum layer (`curriculum.factory.make`) from its config.

  Args:
    config: a TrainConfig (or any config with the curriculum settings,
      `use_mentornet`, `max_number_of_steps` and `seed`).
    checked: `validate.validate(config)`, whose parsed drop-out rates and
      MentorNet values are used when given.
    role: `factory.FIRST`, or `factory.MIXED` for MentorMix's second
      weighting.
  """
  kind = curriculum_kind(config)
  settings = config.curriculum.flat()
  net = None
  if kind == config_lib.CURRICULUM_MENTORNET:
    values = None
    prefix = settings["trained_mentornet_dir"]
    if checked:
      settings["example_dropout_rates"] = checked.dropout_rates
      prefix, values = checked.mentornet_checkpoint, checked.mentornet_values
    net = mentor.load_mentornet(prefix, values)
  return factory.make(
      kind,
      mentornet=net,
      max_number_of_steps=config.optimization.max_number_of_steps,
      seed=config.run.seed,
      role=role,
      **settings)


def make_mixed_curriculum(config, checked=None):
  """MentorMix's second weighting of the mixed examples: a curriculum of its
  own (moving average "mixed", its own drop-out draws) with
  `second_reweight`, else uniform (the mean mixed loss)."""
  if config.mentormix.second_reweight:
    return make_curriculum(config, checked, role=factory.MIXED)
  return factory.make(factory.UNIFORM, role=factory.MIXED)


def make_weight_average(config, model):
  """The averaged weights evaluation scores, or None (`ema_decay` 0)."""
  if not config.model.ema_decay:
    return None
  return weight_average.WeightAverage(model.trainable_variables,
                                      config.model.ema_decay)


def build_model(config):
  """The run's StudentNet; a network its flags cannot build is one line."""
  try:
    return students.build_for(config.model, config.data.dataset_name)
  except (ValueError, TypeError) as e:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise errors.BadInput(
        f"--studentnet={config.model.studentnet} cannot be built from "
        f"these flags ({first[:200]})") from None


def build_training(config, num_examples, checked=None):
  """Creates model, schedule, optimizer and curriculum in the current scope.

  Args:
    config: a TrainConfig (its rules filled in by `with_rules`).
    num_examples: the training records (the schedule counts epochs).
    checked: `validate.validate(config)`, if already called.

  Returns:
    (model, schedule, optimizer, curriculum).
  """
  config = with_rules(config)
  model = build_model(config)
  schedule = optimizers.make_schedule(config.optimization,
                                      config.data.batch_size, num_examples)
  optimizer = precision.wrap_optimizer(
      students.get(config.model.studentnet).make_optimizer(schedule),
      config.model.precision)
  optimizer.build(model.trainable_variables)
  return model, schedule, optimizer, make_curriculum(config, checked)
