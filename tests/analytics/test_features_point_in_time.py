"""Point in time: rows dated after the as-of date change no feature, whatever they are."""

from __future__ import annotations

import datetime as dt
import functools

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from factories import (
    assert_same_features,
    event,
    interaction,
    load,
    load_arrow,
    order,
    random_tables,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clm.analytics.features import compute_features
from clm.domain.contract import EVENT_TYPES, INTERACTION_TYPES, ORDER_STATUSES
from clm.warehouse import Warehouse

TIME_COLUMNS = {"orders": "ordered_at", "events": "occurred_at", "interactions": "occurred_at"}
CUSTOMER_DATES = ("signup_date", "unsubscribed_on", "account_closed_on")


def known_on(data: dict[str, pa.Table], as_of: dt.date) -> dict[str, pa.Table]:
    """What the warehouse would have held at the end of ``as_of``: later rows and dates gone."""
    end = pa.scalar(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()),
                    pa.timestamp("us"))
    out = {name: data[name].filter(pc.less(data[name][col], end))
           for name, col in TIME_COLUMNS.items()}
    customers = data["customers"]
    for col in CUSTOMER_DATES:
        kept = pc.if_else(pc.less_equal(customers[col], pa.scalar(as_of, pa.date32())),
                          customers[col], pa.scalar(None, pa.date32()))
        customers = customers.set_column(customers.schema.get_field_index(col), col, kept)
    out["customers"] = customers
    return out


def features(data: dict[str, pa.Table], as_of: dt.date) -> pa.Table:
    tables = load_arrow(Warehouse.in_memory(), data)
    return compute_features(tables, as_of=as_of).to_pyarrow()


@pytest.mark.parametrize(("seed", "as_of"), [
    (11, dt.date(2024, 3, 31)), (12, dt.date(2025, 1, 1)), (13, dt.date(2025, 7, 15)),
    (14, dt.date(2023, 6, 30)),
])
def test_rows_after_the_as_of_date_change_no_feature(seed, as_of):
    data = random_tables(300, seed=seed)
    full, cut = features(data, as_of), features(known_on(data, as_of), as_of)
    later = sum(data[n].num_rows for n in TIME_COLUMNS) - sum(
        known_on(data, as_of)[n].num_rows for n in TIME_COLUMNS)
    assert later > 0  # the check has something to ignore
    assert_same_features(full, cut)


D = dt.date(2025, 6, 30)
_after = st.datetimes(min_value=dt.datetime(2025, 7, 1), max_value=dt.datetime(2027, 1, 1))
_future_row = st.one_of(
    st.builds(lambda at, amount, status: order("a", at, amount, status), _after,
              st.floats(0, 1000, allow_nan=False), st.sampled_from(ORDER_STATUSES)),
    st.builds(lambda at, kind, feat: event("a", at, kind, feat), _after,
              st.sampled_from(EVENT_TYPES), st.sampled_from([None, "reports", "api"])),
    st.builds(lambda at, kind, score: interaction("a", at, kind, score, "b"), _after,
              st.sampled_from(INTERACTION_TYPES), st.none() | st.floats(0, 10)),
)
_PAST = dict(
    orders=[order("a", dt.datetime(2025, 6, 30, 23, 59, 59), 20),
            order("a", dt.date(2025, 5, 3), 5)],
    events=[event("a", dt.date(2025, 6, 1), "login"),
            event("a", dt.date(2025, 6, 2), "feature_used", "api")],
    interactions=[interaction("a", dt.date(2025, 6, 3), "nps", 8)],
)


def _split(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {"orders": [], "events": [], "interactions": []}
    for row in rows:
        if "order_id" in row:
            out["orders"].append(row)
        else:
            out["events" if "event_type" in row else "interactions"].append(row)
    return out


def _run(extra: dict[str, list[dict]]) -> pa.Table:
    rows = {k: v + extra.get(k, []) for k, v in _PAST.items()}
    tables = load(Warehouse.in_memory(), **rows)
    return compute_features(tables, as_of=D).to_pyarrow()


@functools.cache
def _baseline() -> list[dict]:
    return _run({}).to_pylist()


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_future_row, min_size=1, max_size=8))
def test_any_future_rows_leave_a_customers_features_unchanged(future):
    assert _run(_split(future)).to_pylist() == _baseline()
