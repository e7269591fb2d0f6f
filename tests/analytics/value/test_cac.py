import datetime as dt
import math

import ibis
import pyarrow as pa
import pytest
from factories import customer, order
from value_helpers import PIT_AS_OF, frame_equal, spend_table

from clm.analytics.value.cac import acquisitions, cac, clv_to_cac
from clm.errors import DataFileError

D = dt.date(2024, 3, 15)
SPEND = [("web", "2024-01", 600.0), ("web", "2024-01", 400.0), ("web", "2024-02", 500.0),
         ("ads", "2024-01", 300.0), ("tv", "2024-02", 100.0), ("web", "2024-04", 999.0)]


@pytest.fixture
def shop(warehouse, tables):
    t = tables(
        customers=[
            customer("w1", acquisition_channel="web"),
            customer("w2", acquisition_channel="web"),
            # signed up in January, first paid order in February: acquired in February
            customer("w3", acquisition_channel="web", signup_date="2024-01-05"),
            customer("w4", acquisition_channel="web"),
            customer("a1", acquisition_channel="ads"),
            customer("o1"),
        ],
        orders=[
            order("w1", "2024-01-03", 50), order("w1", "2024-02-03", 50),
            order("w2", "2024-01-20", 80),
            order("w3", "2024-01-06", 80, status="cancelled"), order("w3", "2024-02-10", 80),
            order("w4", "2024-03-16T00:00:00", 80),          # after D
            order("a1", "2024-01-31T23:30:00", 20),
            order("o1", "2024-02-29", 10),
        ],
    )
    return t["orders"], t["customers"], spend_table(warehouse, SPEND)


def _rows(frame, keys):
    return {tuple(r[k] for k in keys): r for r in frame.to_dict("records")}


def test_customers_are_acquired_in_the_month_of_their_first_paid_order(shop):
    orders, customers, _ = shop
    got = acquisitions(orders, customers, as_of=D).execute().set_index("customer_id")
    assert got.to_dict("index") == {
        "w1": {"channel": "web", "month": "2024-01"},
        "w2": {"channel": "web", "month": "2024-01"},
        "w3": {"channel": "web", "month": "2024-02"},
        "a1": {"channel": "ads", "month": "2024-01"},
        "o1": {"channel": "unknown", "month": "2024-02"},
    }


def test_cac_is_spend_over_new_customers_per_channel_and_month(shop):
    got = _rows(cac(*shop, as_of=D).execute(), ["channel", "month"])
    assert set(got) == {("web", "2024-01"), ("web", "2024-02"), ("ads", "2024-01"),
                        ("tv", "2024-02"), ("unknown", "2024-02")}
    assert got["web", "2024-01"]["spend"] == 1000.0
    assert got["web", "2024-01"]["new_customers"] == 2
    assert got["web", "2024-01"]["cac"] == 500.0
    assert got["web", "2024-02"]["cac"] == 500.0
    assert got["ads", "2024-01"]["cac"] == 300.0
    # spend without customers, customers without spend: no CAC either way
    assert got["tv", "2024-02"]["new_customers"] == 0
    assert math.isnan(got["tv", "2024-02"]["cac"])
    assert math.isnan(got["unknown", "2024-02"]["spend"])
    assert math.isnan(got["unknown", "2024-02"]["cac"])


def test_spend_months_may_be_dates(warehouse, shop):
    orders, customers, _ = shop
    rows = [(c, dt.date.fromisoformat(m + "-01"), a) for c, m, a in SPEND]
    spend = spend_table(warehouse, rows, month_type=pa.date32())
    got = _rows(cac(orders, customers, spend, as_of=D).execute(), ["channel", "month"])
    assert got["web", "2024-01"]["cac"] == 500.0
    assert ("web", "2024-04") not in got


def test_clv_to_cac_per_channel_and_cohort(warehouse, shop):
    orders, customers, spend = shop
    clv = warehouse.create("clv", pa.table({"customer_id": ["w1", "w2", "w3", "a1", "zz"],
                                            "clv": [1500.0, 500.0, 2000.0, 600.0, 9.0]}))
    got = _rows(clv_to_cac(clv, orders=orders, customers=customers, marketing_spend=spend,
                           as_of=D).execute(), ["channel", "cohort_month"])
    assert got["web", "2024-01"]["avg_clv"] == 1000.0
    assert got["web", "2024-01"]["clv_to_cac"] == 2.0
    assert got["web", "2024-02"]["clv_to_cac"] == 4.0
    assert got["ads", "2024-01"]["clv_to_cac"] == 2.0
    assert got["unknown", "2024-02"]["customers_with_clv"] == 0
    per_channel = _rows(clv_to_cac(clv, orders=orders, customers=customers,
                                   marketing_spend=spend, as_of=D, by="channel").execute(),
                        ["channel"])
    assert per_channel["web",]["cac"] == 500.0              # 1500 / 3
    assert per_channel["web",]["clv_to_cac"] == pytest.approx(4000 / 3 / 500)


def test_a_spend_table_without_amount_is_refused_naming_the_column(warehouse, shop):
    orders, customers, spend = shop
    with pytest.raises(DataFileError, match="'amount'"):
        cac(orders, customers, spend.drop("amount"), as_of=D)


def test_orders_after_as_of_change_no_cac(pit_tables):
    results = []
    for t in pit_tables:
        spend = t["customers"].select(channel="acquisition_channel").distinct()
        spend = spend.mutate(month=ibis.literal("2024-05"), amount=ibis.literal(100.0))
        results.append(cac(t["orders"], t["customers"], spend, as_of=PIT_AS_OF).execute())
    frame_equal(*results, sort_by=["channel", "month"])
    assert len(results[0]) > 10
