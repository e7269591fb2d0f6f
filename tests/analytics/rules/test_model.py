"""The loaded model: which features it reads, so callers compute only what a model needs."""

from __future__ import annotations

import textwrap

from clm.analytics.feature_catalog import VALUE_FEATURE_NAMES
from clm.analytics.rules import load_model, parse_model, referenced_features

GUARDED = textwrap.dedent(
    """\
    id: guarded
    name: {en: Guarded, zh-CN: 带守卫}
    fallback:
      - stage: lost
        when: tenure_days > 365
      - stage: active
    stages:
      - id: lost
        label: {en: Lost, zh-CN: 流失}
        requires: account_closed or unsubscribed
        criteria:
          - days_since_last_order > 90
      - id: active
        label: {en: Active, zh-CN: 活跃}
        criteria:
          - rule: value_tier in ('A', 'B') and not (p_alive < 0.5)
            label: {en: Valuable, zh-CN: 有价值}
    """
)


def test_referenced_features_cover_guards_criteria_and_fallback_conditions():
    model = parse_model(GUARDED, filename="guarded.yaml")
    assert referenced_features(model) == {
        "account_closed",
        "unsubscribed",
        "days_since_last_order",
        "value_tier",
        "p_alive",
        "tenure_days",
    }
    assert model.feature_names == referenced_features(model)


def test_shipped_base_models_read_no_value_feature():
    for name in ("default", "relationship", "marketing", "value"):
        assert not referenced_features(load_model(name)) & VALUE_FEATURE_NAMES, name


def test_the_value_aware_model_reads_p_alive_and_the_tier():
    names = referenced_features(load_model("value_aware"))
    assert names & VALUE_FEATURE_NAMES == {"p_alive", "value_tier"}
    assert names >= referenced_features(load_model("default"))
