"""The configuration: nested parts with one flat name per setting, and the
flat `train_config.json` that every version wrote and reads."""

import json

import pytest

import helpers
from mentornet import config
from mentornet.config import settings


def test_every_setting_has_one_flat_name():
  for cls in (config.TrainConfig, config.EvalConfig):
    names = settings.flat_names(cls)
    assert len(names) == len(set(names)), cls


def test_flat_names_reach_their_parts():
  c = config.TrainConfig.from_flat(studentnet="inception",
                                   batch_size=32,
                                   learning_rate=0.5,
                                   curriculum="loss_threshold",
                                   mixup_alpha=2.0,
                                   seed=7,
                                   method=config.MENTORMIX)
  assert (c.model.studentnet, c.data.batch_size, c.optimization.learning_rate,
          c.curriculum.kind, c.mentormix.mixup_alpha,
          c.run.seed) == ("inception", 32, 0.5, "loss_threshold", 2.0, 7)
  assert c.replace(seed=3).run.seed == 3 and c.run.seed == 7
  with pytest.raises(TypeError, match="no setting learning_rat"):
    config.TrainConfig.from_flat(learning_rat=0.1)


def test_the_model_part_is_shared_with_the_eval_job():
  e = config.EvalConfig.from_flat(studentnet="inception", num_residual_units=2)
  assert isinstance(e.model, config.ModelConfig)
  assert (e.model.studentnet, e.model.num_residual_units) == ("inception", 2)
  assert e.with_split().split_name == "test"


@pytest.mark.parametrize("run", ["run_43fd139", "run_78a9a26"])
def test_records_of_earlier_versions_read_back_the_same(repo, run):
  """A record written by the first port (43fd139: a baseline, fields missing)
  or the last flat-config version (78a9a26: a MentorNet run) becomes a
  config whose record holds the same values; the booleans become `method`."""
  saved = json.loads(
      (repo / "tests/data" / run / "train_config.json").read_text())
  saved.pop("data", None)
  c = config.TrainConfig.from_flat(**saved)
  assert c.method == (config.MENTORNET
                      if saved["use_mentornet"] else config.BASELINE)
  again = c.to_json_dict()
  assert {k: again[k] for k in saved} == saved
  assert set(again) - set(saved) <= set(config.NEW_FIELDS +
                                        ("save_summaries_steps",))


def test_the_method_is_written_as_the_two_booleans():
  for method, flags in ((config.BASELINE, (False, False)),
                        (config.MENTORNET, (True, False)), (config.MENTORMIX,
                                                            (True, True))):
    record = config.TrainConfig.from_flat(method=method).to_json_dict()
    assert (record["use_mentornet"], record["use_mentormix"]) == flags
    assert "method" not in record
    assert config.TrainConfig.from_flat(**record).method == method


def test_rules_are_resolved_in_one_place(repo, tmp_path):
  from mentornet.training import build  # pylint: disable=g-import-not-at-top
  mix = helpers.train_config(tmp_path,
                             method=config.MENTORMIX,
                             studentnet="resnet32")
  assert mix.optimization.regularization is None
  ruled = build.with_rules(mix)
  assert (ruled.optimization.regularization,
          ruled.optimization.schedule) == ("none", "exponential_unrounded")
  ruled = build.with_rules(mix.replace(second_reweight=False))
  assert ruled.optimization.regularization == "added"
  inception = build.with_rules(helpers.train_config(tmp_path))
  assert (inception.optimization.regularization,
          inception.optimization.schedule) == ("none", "exponential")


def test_every_record_field_has_its_type_checked():
  """A record read back is checked field by field (`run_dir`): every key
  that `to_json_dict` writes has its JSON type."""
  from mentornet.runs import run_dir  # pylint: disable=g-import-not-at-top
  types = run_dir._field_types()  # pylint: disable=protected-access
  record = config.TrainConfig.from_flat(method=config.MENTORMIX).to_json_dict()
  assert set(record) <= set(types)
  assert (types["seed"], types["resnet_widths"], types["curriculum"],
          types["use_mentornet"]) == ((int,), (list,), (str,), (bool,))


@pytest.mark.parametrize("cls", [
    config.TrainConfig, config.EvalConfig, config.PrepareConfig,
    config.MentorNetTrainConfig, config.MentorNetDataConfig,
    config.MentorNetEvalConfig
])
def test_declared_ranges_are_the_checked_ones(cls):
  """A setting's range is declared once (`low`/`high`, shown in its flag's
  help) and checked from there: one value past each end is refused in one
  line naming the flag."""
  checked = 0
  for _, field in settings.leaf_fields(cls):
    name = settings.flat_name(field)
    for bound, step in (("low", -1), ("high", 1)):
      limit = field.metadata.get(bound)
      if limit is None:
        continue
      bad = settings.from_flat(cls, {name: limit + step})
      with pytest.raises(ValueError, match=f"^--{name}={limit + step} must "):
        settings.check_ranges(bad)
      settings.check_ranges(settings.from_flat(cls, {name: limit}))
      checked += 1
  assert checked, cls
