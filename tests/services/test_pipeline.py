"""The batch run end to end: import, history, outputs and what it publishes to the store."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest
from sqlalchemy import func, select

from clm.config import get_settings
from clm.datasets.demo import generate_demo, write_demo
from clm.services.pipeline import run_pipeline
from clm.services.publish import open_store
from clm.store.tables import (
    AnalyticsSnapshot,
    AuditEntry,
    CustomerMetrics,
    CustomerStage,
    StageTransition,
    Task,
)

AS_OF = dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo-data")
    write_demo(generate_demo(customers=300, seed=5), folder)
    return folder


def _run(data_dir, tmp_path, as_of=AS_OF, out="out"):
    settings = get_settings(home=tmp_path / "home")
    return run_pipeline(data_dir=data_dir, as_of=as_of, out=tmp_path / out, settings=settings)


def _store_counts(tmp_path) -> dict[str, int]:
    store = open_store(get_settings(home=tmp_path / "home"))
    try:
        with store.session() as s:
            return {
                t.__tablename__: s.scalar(select(func.count()).select_from(t))
                for t in (
                    CustomerStage,
                    StageTransition,
                    CustomerMetrics,
                    AnalyticsSnapshot,
                    AuditEntry,
                    Task,
                )
            }
    finally:
        store.dispose()


def test_run_publishes_stages_history_metrics_and_snapshots(demo_dir, tmp_path):
    result = _run(demo_dir, tmp_path)
    counts = _store_counts(tmp_path)
    assert counts["customer_stage"] == counts["customer_metrics"] == len(result.stages) == 300
    transitions = pd.read_csv(result.files["transitions"], encoding="utf-8-sig")
    assert counts["stage_transitions"] == len(transitions) > 300
    assert counts["analytics_snapshots"] >= 6
    assert counts["tasks"] > 0
    values = pd.read_csv(result.files["values"], encoding="utf-8-sig")
    assert list(values.columns) == [
        "customer_id",
        "r_score",
        "f_score",
        "m_score",
        "rfm_segment",
        "value_tier",
        "clv",
        "p_alive",
        "expected_purchases",
    ]
    buyers = values.dropna(subset=["r_score"])
    assert buyers["p_alive"].between(0, 1).all()
    assert set(buyers["value_tier"]) <= {"A", "B", "C"}
    assert result.sync is not None


def test_rerunning_the_same_date_writes_nothing_new(demo_dir, tmp_path):
    first = _run(demo_dir, tmp_path)
    before = _store_counts(tmp_path)
    stages_before = first.files["stages"].read_bytes()
    second = _run(demo_dir, tmp_path)
    assert _store_counts(tmp_path) == before
    assert second.files["stages"].read_bytes() == stages_before
    assert all(f.added == 0 for f in second.import_report.files)


def test_rows_dated_after_the_as_of_date_change_no_stage(demo_dir, tmp_path):
    as_of = dt.date(2025, 6, 30)
    baseline = _run(demo_dir, tmp_path / "a", as_of=as_of)

    later = tmp_path / "later-data"
    shutil.copytree(demo_dir, later)
    orders = pd.read_csv(later / "orders.csv", dtype=str)
    customers = orders["customer_id"].dropna().unique()[:50]
    extra = pd.DataFrame(
        {
            "order_id": [f"LATE{i:04d}" for i in range(len(customers))],
            "customer_id": customers,
            "ordered_at": "2025-07-01 09:00:00",
            "amount": "999.00",
            "status": "paid",
        }
    )
    pd.concat([orders, extra]).to_csv(later / "orders.csv", index=False)
    shifted = _run(later, tmp_path / "b", as_of=as_of)

    cols = ["customer_id", "stage", "stage_since", "previous_stage", "grey_zone", "reasons"]
    pd.testing.assert_frame_equal(
        baseline.stages[cols].sort_values("customer_id").reset_index(drop=True),
        shifted.stages[cols].sort_values("customer_id").reset_index(drop=True),
    )
    assert shifted.import_report.file("orders").imported == (
        baseline.import_report.file("orders").imported + len(customers)
    )


def test_customer_list_filters_by_value_tier_and_rfm_segment(demo_dir, tmp_path):
    from clm.services.actors import Actor
    from clm.services.customers import search_customers

    result = _run(demo_dir, tmp_path)
    values = pd.read_csv(result.files["values"], encoding="utf-8-sig")
    store = open_store(get_settings(home=tmp_path / "home"))
    try:
        with store.session() as s:
            tier_a = search_customers(s, actor=Actor.system(), value_tier="A", limit=500)
            lost = search_customers(s, actor=Actor.system(), segment="lost", limit=500)
    finally:
        store.dispose()
    assert {c["customer_id"] for c in tier_a.items} == set(
        values.loc[values.value_tier == "A", "customer_id"]
    )
    assert tier_a.total > 0
    assert lost.total == int((values.rfm_segment == "lost").sum())


def test_refresh_after_an_upload_publishes_the_new_orders(demo_dir, tmp_path):
    from clm.config import ProjectConfig
    from clm.ingest import import_file
    from clm.services.pipeline import open_workspace
    from clm.services.restage import refresh_after_import

    _run(demo_dir, tmp_path)
    settings = get_settings(home=tmp_path / "home")
    customer = pd.read_csv(demo_dir / "customers.csv", dtype=str)["customer_id"].iloc[0]
    upload = tmp_path / "more_orders.csv"
    upload.write_text(
        "order_id,customer_id,ordered_at,amount\n"
        f"UP1,{customer},2025-12-30,120.00\nUP2,{customer},2025-12-31,80.00\n",
        encoding="utf-8",
    )
    store = open_store(settings)

    def order_count() -> int:
        with store.session() as s:
            return s.scalar(
                select(CustomerMetrics.order_count).where(CustomerMetrics.customer_id == customer)
            )

    try:
        before = order_count()
        wh = open_workspace(settings)
        report = import_file(upload, table="orders", warehouse=wh, config=ProjectConfig())
        wh.con.disconnect()
        assert report.added == 2
        sync = refresh_after_import(settings)
        assert sync is not None
        assert order_count() == before + 2
    finally:
        store.dispose()
