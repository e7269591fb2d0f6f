import datetime as dt

import pyarrow as pa
import pytest
from factories import customer, order
from value_helpers import PIT_AS_OF, frame_equal

from clm.analytics.value.features import MODEL_COLUMNS, VALUE_COLUMNS, value_features
from clm.errors import InputError

D = dt.date(2024, 3, 31)


@pytest.fixture
def shop(tables):
    rows = [order(f"c{k}", D - dt.timedelta(days=5 - k), 100.0 * k) for k in range(1, 6)]
    t = tables(customers=[customer("lead")], orders=rows)
    return t["orders"], t["customers"]


def test_every_customer_gets_one_row_and_non_buyers_get_empty_values(shop):
    got = value_features(*shop, as_of=D).execute().set_index("customer_id")
    assert list(got.columns) == list(VALUE_COLUMNS)
    assert sorted(got.index) == ["c1", "c2", "c3", "c4", "c5", "lead"]
    assert got.loc["lead"].isna().all()
    assert got.loc["c5", "r_score"] == 5
    assert got.loc["c5", "value_tier"] == "A"
    assert got.loc["c1", "rfm_segment"] == "lost"
    assert got.loc["c5", "spend_share_cumulative"] == pytest.approx(500 / 1500)


def test_model_values_are_joined_on_customer_id(warehouse, shop):
    model = warehouse.create("model", pa.table({
        "customer_id": ["c1", "c5"], "clv": [10.0, 500.0], "p_alive": [0.2, 0.9],
        "other": ["x", "y"],
    }))
    got = value_features(*shop, as_of=D, model_values=model).execute().set_index("customer_id")
    assert list(got.columns) == [*VALUE_COLUMNS, "clv", "p_alive"]
    assert got.loc["c1", "p_alive"] == 0.2
    assert got["clv"].isna().sum() == 4
    assert set(MODEL_COLUMNS) >= {"clv", "p_alive", "expected_purchases"}


def test_model_values_without_any_model_column_are_refused(warehouse, shop):
    model = warehouse.create("model", pa.table({"customer_id": ["c1"], "score": [1.0]}))
    with pytest.raises(InputError, match="model_values"):
        value_features(*shop, as_of=D, model_values=model)


def test_orders_after_as_of_change_no_value_feature(pit_tables):
    full, cut = pit_tables
    a = value_features(full["orders"], full["customers"], as_of=PIT_AS_OF).execute()
    b = value_features(cut["orders"], cut["customers"], as_of=PIT_AS_OF).execute()
    assert a["r_score"].notna().sum() > 100
    frame_equal(a, b, sort_by=["customer_id"])


def test_docs_describe_every_segment_tier_and_value_column():
    from pathlib import Path

    from clm.analytics.value.rfm import SEGMENTS, rfm_segment_labels
    from clm.analytics.value.tiers import TIERS
    from clm.domain.i18n import t

    text = (Path(__file__).resolve().parents[3] / "docs" / "value.md").read_text("utf-8")
    zh = rfm_segment_labels("zh-CN")
    for seg in SEGMENTS:
        assert f"`{seg}`" in text and zh[seg] in text, seg
    for tier in TIERS:
        assert t(f"tier.{tier}", "zh-CN") in text, tier
    for column in (*VALUE_COLUMNS, *MODEL_COLUMNS):
        assert f"`{column}`" in text, column
