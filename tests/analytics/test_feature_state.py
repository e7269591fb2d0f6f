"""Features from a carried cumulative state equal features computed from scratch.

A backfill carries the cumulative aggregates (counts and sums since the beginning, first and
last dates, the month mask, first order amount, latest scores) from one date to the next and
reads only the newer rows (``clm.analytics.features.state``). That is only a speed-up if the
result is the same, to the last bit: these tests compare every feature of every customer at
every date of a monthly series on the demo company, on DuckDB and on PostgreSQL, plus the cases
where carrying could go wrong (ties at a first order or a latest answer falling on the
boundary between two dates, a customer whose first row arrives late, a long streak).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from clm.analytics.feature_catalog import FEATURES
from clm.analytics.features import compute_features, cumulative_state
from clm.config import ProjectConfig
from clm.datasets.demo import generate_demo, write_demo
from clm.errors import InputError
from clm.ingest import import_folder
from clm.warehouse import Warehouse

DATES = [dt.date(2024, 6, 30), dt.date(2024, 7, 15), dt.date(2024, 12, 31),
         dt.date(2025, 3, 31), dt.date(2025, 9, 30), dt.date(2025, 12, 31)]


def _frame(table) -> pd.DataFrame:
    df = table.execute().sort_values("customer_id").reset_index(drop=True)
    return df[["customer_id", *(f.name for f in FEATURES)]]


def _assert_carried_equals_scratch(wh: Warehouse, dates: list[dt.date]) -> int:
    tables = wh.input_tables()
    state = None
    compared = 0
    for d in dates:
        new = cumulative_state(tables, as_of=d, previous=state).cache()
        if state is not None:
            state.release()
        state = new
        carried = _frame(compute_features(tables, as_of=d, state=state))
        scratch = _frame(compute_features(tables, as_of=d))
        pd.testing.assert_frame_equal(carried, scratch, check_exact=True, obj=f"features {d}")
        compared += len(scratch)
    state.release()
    return compared


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo-state")
    write_demo(generate_demo(customers=400, seed=5), folder)
    return folder


def test_carried_state_gives_the_features_of_a_computation_from_scratch(demo_folder):
    wh = Warehouse.in_memory()
    import_folder(demo_folder, warehouse=wh, config=ProjectConfig())
    assert _assert_carried_equals_scratch(wh, DATES) == 400 * len(DATES)


def test_carried_state_on_postgresql(demo_folder, pg_warehouse):
    import_folder(demo_folder, warehouse=pg_warehouse, config=ProjectConfig())
    assert _assert_carried_equals_scratch(pg_warehouse, DATES[-3:]) == 400 * 3


def _write(folder, name, rows):
    pd.DataFrame(rows).to_csv(folder / f"{name}.csv", index=False)


def test_boundaries_ties_late_first_rows_and_long_streaks(tmp_path):
    """Customers built so that each carried quantity changes exactly at a step boundary."""
    customers = [{"customer_id": c, "signup_date": "2019-01-01"} for c in ("A", "B", "C", "D")]
    orders = [
        # A: two first orders at the same instant on the last second of the first date
        {"order_id": "a1", "customer_id": "A", "ordered_at": "2025-01-31 23:59:59", "amount": 10},
        {"order_id": "a2", "customer_id": "A", "ordered_at": "2025-01-31 23:59:59", "amount": 30},
        {"order_id": "a3", "customer_id": "A", "ordered_at": "2025-02-01 00:00:00", "amount": 99},
        # B: no order until the last date, then a refunded and a paid one
        {"order_id": "b1", "customer_id": "B", "ordered_at": "2025-03-31 08:00:00", "amount": 5,
         "status": "refunded"},
        {"order_id": "b2", "customer_id": "B", "ordered_at": "2025-03-31 09:00:00", "amount": 7},
    ]
    # C: a paid order every month for six years: a streak longer than the month mask
    for i in range(72):
        year, month = divmod(2019 * 12 + 4 + i, 12)  # May 2019 to April 2025
        orders.append({"order_id": f"c{i}", "customer_id": "C",
                       "ordered_at": f"{year}-{month + 1:02d}-15 12:00:00", "amount": 20})
    interactions = [
        {"customer_id": "A", "occurred_at": "2025-01-31 10:00:00", "interaction_type": "nps",
         "score": 9},
        {"customer_id": "A", "occurred_at": "2025-02-28 10:00:00", "interaction_type": "nps",
         "score": 3},
        {"customer_id": "A", "occurred_at": "2025-02-28 10:00:00", "interaction_type": "nps",
         "score": 6},
        {"customer_id": "D", "occurred_at": "2025-03-01 00:00:00",
         "interaction_type": "satisfaction", "score": 4},
        {"customer_id": "B", "occurred_at": "2025-02-10 00:00:00", "interaction_type": "referral"},
    ]
    events = [
        {"customer_id": "D", "occurred_at": "2025-02-28 23:00:00", "event_type": "lead_form"},
        {"customer_id": "D", "occurred_at": "2025-03-02 09:00:00",
         "event_type": "onboarding_completed"},
        {"customer_id": "A", "occurred_at": "2025-03-30 09:00:00", "event_type": "feature_used",
         "feature": "reports"},
    ]
    for name, rows in (("customers", customers), ("orders", orders), ("events", events),
                       ("interactions", interactions)):
        _write(tmp_path, name, rows)
    wh = Warehouse.in_memory()
    report = import_folder(tmp_path, warehouse=wh, config=ProjectConfig())
    assert all(f.quarantined == 0 for f in report.files)
    dates = [dt.date(2025, 1, 31), dt.date(2025, 2, 28), dt.date(2025, 3, 31),
             dt.date(2025, 4, 30)]
    assert _assert_carried_equals_scratch(wh, dates) == 4 * len(dates)
    last = _frame(compute_features(wh.input_tables(), as_of=dates[-1])).set_index("customer_id")
    assert last.loc["A", "first_order_amount"] == 20.0  # the mean of the tied first orders
    assert last.loc["A", "nps_latest"] == 4.5  # the mean of the two answers at the same time
    assert last.loc["C", "active_months_streak"] == 72


def test_a_state_cannot_be_carried_backwards(demo_folder):
    wh = Warehouse.in_memory()
    import_folder(demo_folder, warehouse=wh, config=ProjectConfig())
    state = cumulative_state(wh.input_tables(), as_of=DATES[2])
    with pytest.raises(InputError, match="cannot be carried back"):
        cumulative_state(wh.input_tables(), as_of=DATES[1], previous=state)
    with pytest.raises(InputError, match="feature state is as of"):
        compute_features(wh.input_tables(), as_of=DATES[1], state=state)
