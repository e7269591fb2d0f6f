"""The feature catalog: base features are what compute_features returns, value features are what
clm.analytics.value (and the CLV models) give, and every name is unique."""

from __future__ import annotations

import datetime as dt

from clm.analytics.feature_catalog import (
    BY_NAME,
    CATALOG,
    FEATURE_NAMES,
    FEATURES,
    VALUE_FEATURE_NAMES,
    VALUE_FEATURES,
)
from clm.analytics.value import MODEL_COLUMNS, VALUE_COLUMNS


def test_base_and_value_features_are_separate_groups_told_apart_by_source():
    assert {f.source for f in FEATURES} == {"base"}
    assert {f.source for f in VALUE_FEATURES} == {"value"}
    assert CATALOG == FEATURES + VALUE_FEATURES
    assert len(FEATURE_NAMES) == len(CATALOG) == len(BY_NAME)
    assert VALUE_FEATURE_NAMES == {f.name for f in VALUE_FEATURES}


def test_value_features_are_the_columns_value_features_and_the_clv_models_give():
    assert [f.name for f in VALUE_FEATURES] == [*VALUE_COLUMNS, *MODEL_COLUMNS]


def test_value_feature_types():
    types = {f.name: f.dtype for f in VALUE_FEATURES}
    assert types == {
        "r_score": "int",
        "f_score": "int",
        "m_score": "int",
        "rfm_segment": "str",
        "value_tier": "str",
        "spend_share_cumulative": "float",
        "clv": "float",
        "p_alive": "float",
        "expected_purchases": "float",
    }


def test_compute_features_returns_only_the_base_features():
    import ibis

    from clm.analytics.features import compute_features
    from clm.warehouse import Warehouse

    wh = Warehouse.in_memory()
    wh.ensure_input_tables()
    expr = compute_features(wh.input_tables(), as_of=dt.date(2024, 6, 30))
    assert expr.columns == ("customer_id", *(f.name for f in FEATURES))
    assert not set(expr.columns) & VALUE_FEATURE_NAMES
    assert isinstance(expr, ibis.Table)
