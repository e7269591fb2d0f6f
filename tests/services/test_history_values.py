"""Value features in the stage history: computed and joined only for a model that reads them."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from clm.analytics.rules import load_model, parse_model
from clm.config import ProjectConfig
from clm.datasets.demo import generate_demo, write_demo
from clm.ingest import import_folder
from clm.services import history as history_module
from clm.services.customer_values import ModelValues
from clm.services.history import StageHistory
from clm.warehouse import Warehouse

AS_OF = dt.date(2025, 12, 31)
LAPSED = "X00001"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """The 300-customer demo plus one lapsed regular: an order every 2 days for 300 days, the
    last one 50 days before AS_OF (so the 60-day rule has not fired yet)."""
    folder = tmp_path_factory.mktemp("value-demo")
    write_demo(generate_demo(customers=300, seed=7), folder)
    last = AS_OF - dt.timedelta(days=50)
    with (folder / "customers.csv").open("a", encoding="utf-8") as f:
        f.write(f"{LAPSED},Lapsed Regular,Retail,13800000000,lapsed@example.com,"
                "Emily Chen,partner,2025-01-01,,\n")
    with (folder / "orders.csv").open("a", encoding="utf-8") as f:
        for i in range(150):
            f.write(f"X-{i:03d},{LAPSED},{last - dt.timedelta(days=2 * i)} 10:00:00,100.00,paid\n")
    return folder


@pytest.fixture
def warehouse(demo_dir):
    wh = Warehouse.in_memory()
    import_folder(demo_dir, warehouse=wh, config=ProjectConfig())
    return wh


def _stages(wh: Warehouse, model) -> pd.DataFrame:
    _, frame = StageHistory(wh, model=model).evaluate(AS_OF)
    return frame.set_index("customer_id")


def test_value_aware_model_reasons_name_p_alive_and_the_value_tier(warehouse):
    default = _stages(warehouse, load_model("default"))
    aware = _stages(warehouse, load_model("value_aware"))
    lapsed = aware.loc[LAPSED]
    assert default.loc[LAPSED, "stage"] == "mature"
    assert lapsed["stage"] == "declining"
    assert lapsed["reasons"].startswith("p_alive = 0")
    assert "< 0.3; order_count = 150 >= 3" in lapsed["reasons"]
    tier_a = aware[aware.reasons.str.contains("value_tier = 'A'", regex=False)]
    assert len(tier_a) >= 10
    assert set(tier_a.stage) == {"mature"}
    assert not default.reasons.str.contains("p_alive|value_tier").any()


def test_a_model_of_base_features_computes_no_value_feature(warehouse, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("value features computed for a model that does not read them")

    monkeypatch.setattr(history_module, "value_features", refuse)
    monkeypatch.setattr(history_module, "model_values", refuse)
    evaluation, frame = StageHistory(warehouse, model=load_model("default")).evaluate(AS_OF)
    assert evaluation.customers == len(frame) == 301


def test_a_model_reading_only_rfm_and_tier_fits_no_clv_model(warehouse, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the CLV models were fitted for a model that reads no CLV value")

    monkeypatch.setattr(history_module, "model_values", refuse)
    text = (
        "id: tiers\nname: {en: Tiers, zh-CN: 分层}\nfallback: other\nstages:\n"
        "  - id: top\n    label: {en: Top, zh-CN: 头部}\n"
        "    criteria: [\"value_tier == 'A' and r_score >= 4\"]\n"
        "  - id: other\n    label: {en: Other, zh-CN: 其他}\n    criteria: [\"false\"]\n"
    )
    frame = _stages(warehouse, parse_model(text, filename="tiers.yaml"))
    top = frame[frame.stage == "top"]
    assert len(top) >= 5
    assert top.reasons.str.fullmatch(r"value_tier = 'A'; r_score = [45] >= 4").all()


def test_when_the_clv_models_cannot_be_fitted_their_rules_hold_for_nobody(warehouse, monkeypatch):
    monkeypatch.setattr(
        history_module,
        "model_values",
        lambda orders, *, as_of: ModelValues(None, note="BG/NBD not fitted: too few repeat buyers"),
    )
    frame = _stages(warehouse, load_model("value_aware"))
    assert frame.loc[LAPSED, "stage"] == "mature"
    assert not frame.reasons.str.contains("p_alive").any()
    assert frame.reasons.str.contains("value_tier = 'A'", regex=False).any()


def test_history_features_are_what_the_model_reads(warehouse):
    """``StageHistory.features`` is the one join point: explaining a stage reads the same."""
    from clm.analytics.feature_catalog import FEATURES

    base = [f.name for f in FEATURES]
    default = StageHistory(warehouse, model=load_model("default")).features(AS_OF)
    aware = StageHistory(warehouse, model=load_model("value_aware")).features(AS_OF)
    assert default.columns == ("customer_id", *base)
    assert aware.columns == ("customer_id", *base, "p_alive", "value_tier")
    row = aware.filter(aware.customer_id == LAPSED).execute().iloc[0]
    assert row["p_alive"] < 0.3 and row["value_tier"] in ("A", "B", "C")
