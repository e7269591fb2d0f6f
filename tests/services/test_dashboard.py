"""The dashboard's read side: every figure restricted to the actor's customers and the filters."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from clm.services.dashboard import (
    DashboardFilter,
    build_dashboard,
    clv_histogram,
    funnel,
    stage_counts,
    stage_flows,
)
from clm.services.snapshots import replace_metrics, save_snapshot

AS_OF = dt.date(2024, 3, 1)  # the services conftest's sync date
STAGES = ["prospect", "new", "growing", "mature", "declining", "churned"]


def _seed(sync, make_frames, new_user, n=12):
    rep = new_user("rep", "sales")
    owners = ["rep" if i % 3 == 0 else None for i in range(n)]
    sync(*make_frames(n, owners=owners))
    return rep


def test_an_empty_store_has_no_dashboard_date(store, admin):
    with store.session() as s:
        board = build_dashboard(s, actor=admin, filters=DashboardFilter())
    assert board.as_of is None and board.stage_counts == []


def test_stage_counts_cover_every_visible_customer_once(store, admin, sync, make_frames, new_user):
    rep = _seed(sync, make_frames, new_user)
    with store.session() as s:
        everyone = dict(stage_counts(s, actor=admin, filters=DashboardFilter()))
        mine = dict(stage_counts(s, actor=rep, filters=DashboardFilter()))
        by_owner = dict(stage_counts(s, actor=admin, filters=DashboardFilter(owner_id=rep.user_id)))
    assert everyone == {s: 2 for s in STAGES}
    assert sum(mine.values()) == 4  # customers 0, 3, 6, 9 are the rep's
    assert mine == by_owner


def test_flows_and_funnel_count_transitions_inside_the_period(store, admin, sync, make_frames,
                                                              new_user):
    _seed(sync, make_frames, new_user)
    with store.session() as s:
        inside = stage_flows(s, actor=admin, filters=DashboardFilter(),
                             start=dt.date(2024, 1, 1), end=AS_OF)
        outside = stage_flows(s, actor=admin, filters=DashboardFilter(),
                              start=dt.date(2024, 2, 2), end=AS_OF)
        steps = funnel(s, actor=admin, filters=DashboardFilter(), end=AS_OF)
    assert sum(f["customers"] for f in inside) == 12
    assert all(f["from"] is None for f in inside)
    assert outside == []
    assert steps == [("prospect", 2), ("new", 2), ("growing", 2), ("mature", 2)]


def test_the_default_period_ends_on_the_last_sync(store, admin, sync, make_frames, new_user):
    _seed(sync, make_frames, new_user)
    with store.session() as s:
        board = build_dashboard(s, actor=admin, filters=DashboardFilter())
    assert board.as_of == AS_OF and board.end == AS_OF
    assert board.start == AS_OF - dt.timedelta(days=180)
    assert {r["stage"] for r in board.at_risk} == {"declining", "churned"}
    assert len(board.at_risk) == 4


def test_segment_filter_and_clv_bands_read_the_stored_metrics(store, admin, sync, make_frames,
                                                             new_user):
    _seed(sync, make_frames, new_user)
    ids = [f"c{i:03d}" for i in range(12)]
    metrics = pd.DataFrame({
        "customer_id": ids,
        "as_of": AS_OF,
        "order_count": 1,
        "total_spend": 10.0,
        "active_days_30d": 0,
        "clv": [float(10 * i) for i in range(12)],
        "rfm_segment": ["champions" if i < 5 else "lost" for i in range(12)],
        "value_tier": ["A" if i < 2 else "C" for i in range(12)],
    })
    with store.session() as s:
        replace_metrics(s, metrics)
        save_snapshot(s, kind="import_report", as_of=AS_OF, payload={
            "import_id": "x", "files": [{"file": "orders.csv", "read": 10, "imported": 9,
                                         "quarantined": 1}]})
        champions = DashboardFilter(segment="champions")
        board = build_dashboard(s, actor=admin, filters=champions)
        bands = clv_histogram(s, actor=admin, filters=DashboardFilter(), bins=4)
    assert board.customers == 5
    assert board.rfm_segments == [("champions", 5)]
    assert board.last_import["quarantined"] == 1
    assert sum(b["customers"] for b in bands) == 12
    assert bands[0]["low"] == 0.0
