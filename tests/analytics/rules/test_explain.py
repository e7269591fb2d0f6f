"""``explain``: every criterion judged for one customer, in the reader's language, agreeing with
the engine; and ``evaluate_expression`` for tag rules."""

from __future__ import annotations

import pytest
from rule_helpers import LEAD, customer, feature_table
from test_default_model import CASES

from clm.analytics.rules import evaluate_expression, explain, localize_reasons
from clm.errors import RuleError


def _one(reasons, stage, text):
    [found] = [r for r in reasons if r.stage == stage and r.criterion == text]
    return found


def test_held_criterion_shows_its_values_and_labels_in_chinese(default_model):
    reasons = explain(default_model, customer(days_since_last_order=97), "zh-CN")
    r = _one(reasons, "churned", "days_since_last_order > 90")
    assert r.held and r.held_loose
    assert r.facts == r.detail == "days_since_last_order = 97 > 90"
    assert r.label == "距最近一单超过 90 天"
    assert r.stage_label == "流失客户"
    assert r.values == {"days_since_last_order": 97}
    assert r.kind == "criterion"
    lines = default_model.stage("churned").criteria[0].origin.line
    assert r.line == lines > 1


def test_labels_in_english(default_model):
    r = _one(explain(default_model, customer(), "en"), "mature", "arpu_percentile >= 80%")
    assert (r.label, r.stage_label) == ("ARPU in the top 20%", "Mature")


def test_criterion_not_held_still_shows_the_values(default_model):
    r = _one(explain(default_model, customer(), "en"), "churned", "days_since_last_order > 90")
    assert not r.held and not r.held_loose
    assert r.facts == ""
    assert r.detail == "days_since_last_order = 40 > 90"


def test_within_the_margin_holds_loosely_only(default_model):
    row = customer(days_since_last_order=85)
    r = _one(explain(default_model, row), "churned", "days_since_last_order > 90")
    assert (r.held, r.held_loose) == (False, True)


def test_guards_and_fallback_rules_are_listed(default_model):
    reasons = explain(default_model, LEAD)
    kinds = {(r.stage, r.kind) for r in reasons}
    assert ("declining", "requires") in kinds
    assert ("prospect", "fallback") in kinds
    fallback = [r for r in reasons if r.kind == "fallback" and r.stage == "prospect"]
    assert fallback[0].held and fallback[0].facts == "coalesce(order_count, 0) = 0 == 0"


def test_one_stage_only(default_model):
    reasons = explain(default_model, customer(), stage="growing")
    assert {r.stage for r in reasons} == {"growing"}
    assert [r.kind for r in reasons] == ["requires", "criterion", "criterion", "criterion"]


def test_null_values_are_shown_as_null(default_model):
    r = _one(
        explain(default_model, customer(usage_change_pct=None)),
        "declining",
        "usage_change_pct <= -50% and usage_prev_30d >= 10",
    )
    assert not r.held
    assert r.detail == "usage_change_pct = null <= -50%; usage_prev_30d = 20 >= 10"


@pytest.fixture(scope="module")
def batch(run):
    return run([c[1] for c in CASES])


def test_python_explanation_matches_the_engine_reasons(default_model, batch):
    checked = 0
    for (name, row, _, _), result in zip(CASES, batch, strict=True):
        if result["reasons"].startswith("fallback"):
            continue
        reasons = explain(default_model, row, stage=result["stage"])
        facts = "; ".join(r.facts for r in reasons if r.kind == "criterion" and r.facts)
        assert facts == result["reasons"], name
        checked += 1
    assert checked >= 18


def test_evaluate_expression_filters_a_feature_table(con):
    table = feature_table(
        [customer(orders_30d=3), customer(orders_30d=1), customer(orders_30d=None)]
    )
    kept = table.filter(evaluate_expression("orders_30d >= 2", table))
    assert con.execute(kept.select("customer_id"))["customer_id"].tolist() == ["c0"]
    flags = con.execute(table.select(v=evaluate_expression("not orders_30d >= 2", table)))["v"]
    assert flags.tolist() == [False, True, True]


def test_evaluate_expression_reports_bad_rules():
    table = feature_table([customer()])
    with pytest.raises(RuleError, match="did you mean 'orders_30d'"):
        evaluate_expression("orders_3od >= 2", table)


def test_reasons_notes_read_in_chinese_and_english(default_model):
    text = "days_since_first_order = 3 <= 30; min_stay: 3 days in new < 7 (would move to churned)"
    zh = localize_reasons(text, model=default_model, locale="zh-CN")
    assert zh == (
        "days_since_first_order = 3 <= 30; 最短停留：已在新客户 3 天 < 7 天（否则将进入流失客户）"
    )
    en = localize_reasons(text, model=default_model, locale="en")
    assert en.endswith("minimum stay: 3 days in New < 7 (would move to Churned)")


def test_margin_fallback_and_kept_notes_are_localized(default_model):
    zh = localize_reasons(
        "days_since_last_order = 85 > 81 (margin on 90)", model=default_model, locale="zh"
    )
    assert zh == "days_since_last_order = 85 > 81（90 的缓冲区间）"
    assert localize_reasons("fallback; x = 1 == 1", model=default_model, locale="zh-CN") == (
        "兜底规则; x = 1 == 1"
    )
    assert localize_reasons("kept: no stage's criteria held", model=default_model, locale="zh-CN")
    assert localize_reasons("", model=default_model, locale="zh-CN") == ""


# -- text and value features ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "row", "held", "detail"),
    [
        ("value_tier == 'A'", {"value_tier": "A"}, True, "value_tier = 'A'"),
        ("value_tier == 'A'", {"value_tier": "B"}, False, "value_tier = 'B' == 'A'"),
        ("value_tier == \"A\"", {"value_tier": None}, False, "value_tier = null == 'A'"),
        ("'A' != value_tier", {"value_tier": "B"}, True, "value_tier = 'B' != 'A'"),
        (
            "rfm_segment in ('at_risk', \"lost\")",
            {"rfm_segment": "lost"},
            True,
            "rfm_segment = 'lost' in ('at_risk', 'lost')",
        ),
        (
            "rfm_segment not in ('lost')",
            {"rfm_segment": "champions"},
            True,
            "not (rfm_segment = 'champions' in ('lost'))",
        ),
        ("r_score in (4, 5)", {"r_score": 4}, True, "r_score = 4 in (4, 5)"),
        ("rfm_segment == \"it's\"", {"rfm_segment": "it's"}, True, "rfm_segment = \"it's\""),
    ],
)
def test_text_conditions_read_naturally_in_reasons(rule, row, held, detail, con):
    from clm.analytics.rules import parse_expression
    from clm.analytics.rules.compiler import Compiler
    from clm.analytics.rules.explain import Evaluator

    node = parse_expression(rule)
    evaluator = Evaluator(customer(**row))
    assert evaluator.condition(node) is held
    assert evaluator.facts(node, rule, gated=False) == detail
    table = feature_table([customer(**row)])
    engine = con.execute(table.select(v=Compiler(table).facts(node, rule)))["v"].tolist()
    assert engine == [detail if held else ""]


def test_value_aware_explanation_shows_p_alive_and_the_tier():
    from clm.analytics.rules import load_model

    model = load_model("value_aware")
    row = customer(order_count=4, p_alive=0.12345, value_tier="A")
    reasons = explain(model, row, "zh-CN")
    p_alive = _one(reasons, "declining", "p_alive < 0.3 and order_count >= 3")
    assert p_alive.held and p_alive.facts == "p_alive = 0.1235 < 0.3; order_count = 4 >= 3"
    assert p_alive.label == "大概率已不活跃：存活概率低于 30%（至少 3 单）"
    assert p_alive.values == {"p_alive": 0.12345, "order_count": 4}
    tier = _one(reasons, "mature", "value_tier == 'A'")
    assert tier.held and tier.facts == "value_tier = 'A'"
