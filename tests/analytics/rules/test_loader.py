"""Stage model files: the shipped ones load, and every mistake names the file, line and culprit."""

from __future__ import annotations

import textwrap
from importlib import resources
from pathlib import Path

import pytest

from clm.analytics.rules import load_model, model_version, parse_model, shipped_models
from clm.errors import NotFoundError, RuleError

MINIMAL = textwrap.dedent(
    """\
    id: tiny
    name: {en: Tiny, zh-CN: 小模型}
    margin: 0.1
    min_stay_days: 3
    stages:
      - id: lost
        label: {en: Lost, zh-CN: 流失}
        criteria:
          - days_since_last_order > 90
      - id: active
        label: {en: Active, zh-CN: 活跃}
        requires: order_count >= 1
        match: at_least 2
        min_stay_days: 0
        criteria:
          - orders_30d >= 1
          - rule: referrals_90d >= 1
            label: {en: Referred someone, zh-CN: 推荐过他人}
          - unsubscribed == false
    fallback: active
    """
)


def _error(text: str, filename: str = "bad.yaml", fmt: str = "yaml") -> RuleError:
    with pytest.raises(RuleError) as info:
        parse_model(text, filename=filename, fmt=fmt)
    return info.value


def test_five_models_are_shipped():
    assert shipped_models() == ["default", "marketing", "relationship", "value", "value_aware"]


@pytest.mark.parametrize("name", ["default", "relationship", "marketing", "value", "value_aware"])
def test_every_shipped_model_loads_with_labels_in_both_languages(name):
    model = load_model(name)
    assert model.id == name
    assert len(model.version) == 12
    assert model.name.en and model.name.zh_cn
    for stage in model.stages:
        assert model.label(stage.id, "en") == stage.label.en
        assert model.label(stage.id, "zh-CN") == stage.label.zh_cn != stage.label.en
        for criterion in stage.criteria:
            assert criterion.label is not None, (stage.id, criterion.text)
            assert criterion.label.get("zh") == criterion.label.zh_cn


def test_shipped_models_carry_the_chinese_stage_names_of_the_spec():
    zh = {name: [s.label.zh_cn for s in load_model(name).stages] for name in shipped_models()}
    assert set(zh["default"]) == {
        "潜在客户",
        "新客户",
        "成长客户",
        "成熟客户",
        "衰退客户",
        "流失客户",
    }
    assert set(zh["relationship"]) == {"考察期", "发展期", "稳定期", "衰退期"}
    assert set(zh["marketing"]) == {"获取", "激活", "留存", "增值", "流失"}
    assert set(zh["value"]) == {"潜在", "初次购买", "重复购买", "忠诚", "流失"}


def test_minimal_model_fields_are_read():
    model = parse_model(MINIMAL, filename="tiny.yaml")
    assert model.stage_ids == ("lost", "active")
    assert model.margin == 0.1 and model.min_stay_days == 3
    lost, active = model.stages
    assert lost.min_stay_days == 3 and active.min_stay_days == 0
    assert (active.match, active.k) == ("at_least", 2)
    assert active.requires is not None and active.requires.text == "order_count >= 1"
    assert active.criteria[1].label.get("zh-CN") == "推荐过他人"
    assert lost.group == "lost" and lost.sticky is True
    assert [f.stage for f in model.fallback] == ["active"]
    assert model.rank("lost") == 0 and model.rank("active") == 1


def test_criterion_positions_are_the_file_lines():
    model = parse_model(MINIMAL, filename="tiny.yaml")
    assert model.stages[0].criteria[0].origin.line == 9
    assert model.stages[0].criteria[0].origin.column == 9
    assert model.stages[1].criteria[1].origin.line == 17


def test_unknown_feature_names_file_line_column_and_suggestion():
    err = _error(MINIMAL.replace("days_since_last_order > 90", "days_since_last_ordr > 90"))
    assert err.message == (
        "bad.yaml line 9, column 9: unknown feature 'days_since_last_ordr' "
        "(did you mean 'days_since_last_order'?)"
    )
    assert err.context["file"] == "bad.yaml"
    assert err.context["line"] == 9
    assert err.context["suggestion"] == "days_since_last_order"


def test_unknown_feature_in_a_quoted_rule_points_inside_the_quotes():
    err = _error(MINIMAL.replace("- orders_30d >= 1", '- "orders_30 >= 1"'))
    assert err.context["line"] == 16
    assert err.context["column"] == 10
    assert err.context["suggestion"] == "orders_30d"


def test_typo_in_a_key_names_the_closest_key():
    err = _error(MINIMAL.replace("    criteria:\n      - days", "    critera:\n      - days"))
    assert "bad.yaml line 8:" in err.message
    assert "unknown key 'critera' (did you mean 'criteria'?)" in err.message


def test_typo_in_a_top_level_key():
    err = _error(MINIMAL.replace("min_stay_days: 3", "min_stay: 3"))
    assert err.message.startswith("bad.yaml line 4:")
    assert "did you mean 'min_stay_days'" in err.message


def test_fallback_to_an_unknown_stage_is_refused():
    err = _error(MINIMAL.replace("fallback: active", "fallback: activ"))
    assert "line 20" in err.message and "did you mean 'active'" in err.message


def test_fallback_list_must_end_with_an_unconditional_entry():
    text = MINIMAL.replace("fallback: active", "fallback:\n  - {stage: active, when: unsubscribed}")
    assert "last entry must have no 'when'" in _error(text).message


def test_label_needs_both_languages():
    err = _error(MINIMAL.replace("{en: Lost, zh-CN: 流失}", "{en: Lost}"))
    assert "line 7" in err.message and "both en and zh-CN" in err.message


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("margin: 0.1", "margin: 2", "margin must be a number from 0 to 0.9"),
        ("min_stay_days: 3", "min_stay_days: -1", "min_stay_days must be a whole number"),
        ("match: at_least 2", "match: at_least 5", "needs 1 to 3"),
        ("match: at_least 2", "match: most", "match must be 'any', 'all' or 'at_least N'"),
        ("id: lost", "id: Lost Customers", "stage id must be lower-case"),
        ("id: active", "id: lost", "stage id 'lost' appears twice"),
        ("- days_since_last_order > 90", "- days_since_last_order", "must be true/false"),
        ("- days_since_last_order > 90", "- 90", "must be a rule expression"),
        ("name: {en: Tiny, zh-CN: 小模型}\n", "", "missing required key 'name'"),
    ],
)
def test_invalid_fields_are_rule_errors(old, new, fragment):
    text = MINIMAL.replace(old, new, 1)
    assert text != MINIMAL
    assert fragment in _error(text).message


def test_duplicate_keys_are_refused():
    err = _error(MINIMAL.replace("margin: 0.1\n", "margin: 0.1\nmargin: 0.2\n"))
    assert "key 'margin' appears twice" in err.message and "line 4" in err.message


def test_broken_yaml_names_the_line():
    err = _error(MINIMAL.replace("  - id: active", "  - id: [active"))
    assert err.message.startswith("bad.yaml line ")
    assert "not valid YAML" in err.message


def test_toml_model_with_the_same_structure_loads(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(
        textwrap.dedent(
            """\
            id = "tiny"
            name = {en = "Tiny", zh-CN = "小模型"}
            margin = 0.1
            fallback = "active"

            [[stages]]
            id = "lost"
            label = {en = "Lost", zh-CN = "流失"}
            criteria = ["days_since_last_order > 90"]

            [[stages]]
            id = "active"
            label = {en = "Active", zh-CN = "活跃"}
            criteria = [
                "orders_30d >= 1",
                {rule = "referrals_90d >= 1", label = {en = "R", zh-CN = "荐"}},
            ]
            """
        ),
        encoding="utf-8",
    )
    model = load_model(path)
    assert model.stage_ids == ("lost", "active")
    assert model.stages[1].criteria[1].label.get("zh-CN") == "荐"


def test_toml_error_names_the_line_of_the_rule(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        'id = "x"\nname = {en = "X", zh-CN = "X"}\n\n[[stages]]\nid = "a"\n'
        'label = {en = "A", zh-CN = "甲"}\ncriteria = ["orders_3d > 1"]\n',
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as info:
        load_model(path)
    assert info.value.message.startswith(f"{path} line 7: unknown feature 'orders_3d'")


def test_version_is_a_content_hash_independent_of_line_endings():
    assert parse_model(MINIMAL).version == model_version(MINIMAL)
    assert model_version(MINIMAL) == model_version(MINIMAL.replace("\n", "\r\n"))
    assert model_version(MINIMAL) != model_version(MINIMAL.replace("90", "91"))


def test_loading_twice_gives_equal_models():
    assert load_model("default") == load_model("default")


def test_unknown_shipped_name_suggests_one():
    with pytest.raises(NotFoundError, match="did you mean 'default'"):
        load_model("defualt")


def test_missing_file_is_not_found(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        load_model(tmp_path / "nope.yaml")


def test_user_yaml_file_loads_by_path(tmp_path):
    path = Path(tmp_path / "mine.yaml")
    path.write_text(MINIMAL, encoding="utf-8")
    model = load_model(str(path))
    assert model.source == str(path) and model.id == "tiny"


def test_typo_in_the_shipped_default_is_reported_where_it_is():
    text = resources.files("clm").joinpath("resources/models/default.yaml").read_text("utf-8")
    broken = text.replace("rule: days_since_last_order > 90", "rule: days_since_last_ordr > 90")
    lines = broken.splitlines()
    line = next(i for i, s in enumerate(lines, 1) if "days_since_last_ordr" in s)
    column = lines[line - 1].index("days_since_last_ordr") + 1
    err = _error(broken, filename="default.yaml")
    assert err.message == (
        f"default.yaml line {line}, column {column}: unknown feature 'days_since_last_ordr' "
        "(did you mean 'days_since_last_order'?)"
    )


def test_typo_in_a_stage_key_names_the_stage():
    text = resources.files("clm").joinpath("resources/models/default.yaml").read_text("utf-8")
    broken = text.replace(
        "criteria:\n      - rule: repurchases", "critera:\n      - rule: repurchases"
    )
    err = _error(broken, filename="default.yaml")
    assert "stage 'growing': unknown key 'critera' (did you mean 'criteria'?)" in err.message


def test_text_feature_compared_with_a_number_is_refused_at_load_with_file_line_column():
    err = _error(MINIMAL.replace("- orders_30d >= 1", "- value_tier == 1"))
    assert err.message == (
        "bad.yaml line 16, column 23: '==' cannot compare 'value_tier' (text) with '1' "
        "(a number) (write '1' to compare it as text)"
    )
    assert (err.context["file"], err.context["line"], err.context["column"]) == ("bad.yaml", 16, 23)


def test_number_feature_compared_with_text_is_refused_at_load():
    err = _error(MINIMAL.replace("- orders_30d >= 1", "- r_score in ('A', 'B')"), "m.yaml")
    assert err.message.startswith("m.yaml line 16, column 21: 'in' cannot compare 'r_score'")
    assert "(text)" in err.message


def test_the_value_aware_model_is_the_default_plus_two_value_criteria():
    default, aware = load_model("default"), load_model("value_aware")
    assert aware.stage_ids == default.stage_ids
    added = {}
    for s in aware.stages:
        before = {c.text for c in default.stage(s.id).criteria}
        added[s.id] = [c.text for c in s.criteria if c.text not in before]
    assert added == {
        "churned": [],
        "declining": ["p_alive < 0.3 and order_count >= 3"],
        "mature": ["value_tier == 'A'"],
        "growing": [],
        "new": [],
        "prospect": [],
    }
