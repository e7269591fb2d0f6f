import datetime as dt
import math

import pytest
from factories import load, order
from value_helpers import PIT_AS_OF, frame_equal

from clm.analytics.value.cohorts import (
    churn_rate_per_period,
    cohort_retention,
    repeat_purchase_rate,
    retention_matrix,
)

D = dt.date(2024, 3, 31)
ORDERS = [
    # January cohort: a buys Jan, Feb, Mar; b Jan and Mar; c only Jan (its Feb order refunded)
    order("a", "2024-01-05", 100), order("a", "2024-02-05", 50), order("a", "2024-03-05", 50),
    order("b", "2024-01-10", 100), order("b", "2024-03-10", 100),
    order("c", "2024-01-31T23:59:00", 100), order("c", "2024-02-10", 999, status="refunded"),
    # February cohort: d twice in Feb; e Feb and Mar
    order("d", "2024-02-01T00:00:00", 60), order("d", "2024-02-20", 40),
    order("e", "2024-02-11", 100), order("e", "2024-03-30", 20),
    # after D: changes nothing
    order("a", "2024-04-01T00:00:00", 500), order("f", "2024-04-02", 500),
]


@pytest.fixture
def orders(tables):
    return tables(orders=ORDERS)["orders"]


def _cells(frame):
    return {(r["cohort_month"], r["period"]): r for r in frame.to_dict("records")}


def test_cohort_retention_matches_the_hand_computed_table(orders):
    got = _cells(cohort_retention(orders, as_of=D).execute())
    assert sorted(got) == [("2024-01", 0), ("2024-01", 1), ("2024-01", 2),
                           ("2024-02", 0), ("2024-02", 1)]
    expected = {  # (size, active, retention, revenue, revenue retention)
        ("2024-01", 0): (3, 3, 1.0, 300.0, 1.0),
        ("2024-01", 1): (3, 1, 1 / 3, 50.0, 50 / 300),
        ("2024-01", 2): (3, 2, 2 / 3, 150.0, 0.5),
        ("2024-02", 0): (2, 2, 1.0, 200.0, 1.0),
        ("2024-02", 1): (2, 1, 0.5, 20.0, 0.1),
    }
    for key, (size, active, retention, revenue, rev_ret) in expected.items():
        row = got[key]
        assert (row["cohort_size"], row["customers_active"]) == (size, active), key
        assert row["retention"] == pytest.approx(retention), key
        assert row["revenue"] == pytest.approx(revenue), key
        assert row["revenue_retention"] == pytest.approx(rev_ret), key
    assert got["2024-01", 2]["month"] == "2024-03"
    assert all(row["complete"] for row in got.values())


def test_months_without_activity_are_zero_cells_and_a_partial_month_is_flagged(tables):
    t = tables(orders=[order("a", "2023-11-15", 10), order("a", "2024-02-01", 10)])
    got = _cells(cohort_retention(t["orders"], as_of=dt.date(2024, 2, 10)).execute())
    assert [got["2023-11", p]["customers_active"] for p in range(4)] == [1, 0, 0, 1]
    assert got["2023-11", 1]["month"] == "2023-12"
    assert [got["2023-11", p]["complete"] for p in range(4)] == [True, True, True, False]


def test_retention_matrix_puts_cohorts_in_rows_and_periods_in_columns(orders):
    matrix = retention_matrix(cohort_retention(orders, as_of=D))
    assert list(matrix.index) == ["2024-01", "2024-02"]
    assert list(matrix.columns) == [0, 1, 2]
    assert matrix.loc["2024-01", 2] == pytest.approx(2 / 3)
    assert math.isnan(matrix.loc["2024-02", 2])
    revenue = retention_matrix(cohort_retention(orders, as_of=D).execute(),
                               value="revenue_retention")
    assert revenue.loc["2024-02", 1] == pytest.approx(0.1)


def test_repeat_purchase_rate_overall_and_by_cohort(orders):
    overall = repeat_purchase_rate(orders, as_of=D).execute().iloc[0]
    assert (overall["customers"], overall["repeat_customers"]) == (5, 4)
    assert overall["repeat_purchase_rate"] == pytest.approx(0.8)
    by = repeat_purchase_rate(orders, as_of=D, by_cohort=True).execute()
    assert by.set_index("cohort_month")["repeat_purchase_rate"].to_dict() == pytest.approx(
        {"2024-01": 2 / 3, "2024-02": 1.0})


def test_churn_rate_is_the_share_of_last_months_buyers_not_buying_this_month(orders):
    got = churn_rate_per_period(orders, as_of=D).execute().set_index("month")
    assert list(got.index) == ["2024-02", "2024-03"]
    assert got.loc["2024-02", ["active_previous", "retained", "churned"]].tolist() == [3, 1, 2]
    assert got.loc["2024-02", "churn_rate"] == pytest.approx(2 / 3)
    assert got.loc["2024-03", ["active_previous", "retained", "churned"]].tolist() == [3, 2, 1]
    assert got.loc["2024-03", "churn_rate"] == pytest.approx(1 / 3)


def test_orders_after_as_of_change_no_cohort_metric(pit_tables):
    full, cut = pit_tables
    for fn, keys in ((cohort_retention, ["cohort_month", "period"]),
                     (churn_rate_per_period, ["month"])):
        a = fn(full["orders"], as_of=PIT_AS_OF).execute()
        frame_equal(a, fn(cut["orders"], as_of=PIT_AS_OF).execute(), sort_by=keys)
        assert len(a) > 10
    a = repeat_purchase_rate(full["orders"], as_of=PIT_AS_OF, by_cohort=True).execute()
    b = repeat_purchase_rate(cut["orders"], as_of=PIT_AS_OF, by_cohort=True).execute()
    frame_equal(a, b, sort_by=["cohort_month"])


@pytest.mark.postgres
def test_postgres_gives_the_same_cohorts_rfm_and_tiers_as_duckdb(warehouse, pg_warehouse):
    from factories import load_arrow, random_tables

    from clm.analytics.value.rfm import rfm_scores
    from clm.analytics.value.tiers import arpu, value_tiers

    data = random_tables(150, seed=11, orders_per_customer=5, events_per_customer=0,
                         interactions_per_customer=0)
    duck = load_arrow(warehouse, data)["orders"]
    pg = load_arrow(pg_warehouse, data)["orders"]
    hand_duck = load(warehouse, orders=ORDERS)["orders"]  # appended to the random orders
    hand_pg = load(pg_warehouse, orders=ORDERS)["orders"]
    assert hand_duck.count().execute() == hand_pg.count().execute()
    as_of = dt.date(2024, 6, 15)
    cases = [
        (cohort_retention, ["cohort_month", "period"]),
        (churn_rate_per_period, ["month"]),
        (rfm_scores, ["customer_id"]),
        (value_tiers, ["customer_id"]),
        (arpu, ["customer_id"]),
    ]
    for fn, keys in cases:
        a = fn(duck, as_of=as_of).execute()
        b = fn(pg, as_of=as_of).execute()
        assert len(a) > 10, fn.__name__
        frame_equal(a, b, sort_by=keys)
