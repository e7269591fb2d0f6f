import datetime as dt

import pandas as pd
import pytest

from clm.analytics.clv import calibration_holdout_summary, rfm_summary
from clm.errors import InputError


def _orders(warehouse, rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount", "status"])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], format="mixed")
    return warehouse.create("orders", frame)


ROWS = [
    ("a", "2024-01-01 09:00", 10.0, "paid"),
    ("a", "2024-01-01 18:00", 5.0, "paid"),  # same day: one purchase of 15
    ("a", "2024-01-08", 20.0, "paid"),
    ("a", "2024-01-15", 40.0, "paid"),
    ("a", "2024-01-20", 99.0, "refunded"),  # not paid: ignored
    ("b", "2024-01-10", 7.0, None),  # missing status means paid
    ("a", "2024-02-05", 30.0, "paid"),  # holdout
]


def test_purchases_are_counted_per_customer_day_in_weeks(warehouse):
    table = _orders(warehouse, ROWS)
    s = rfm_summary(table, calibration_end=dt.date(2024, 1, 29), time_unit="week",
                    as_of=dt.date(2024, 2, 29)).execute().set_index("customer_id")
    assert s.loc["a", "frequency"] == 2
    assert s.loc["a", "recency"] == pytest.approx(14 / 7)
    assert s.loc["a", "T"] == pytest.approx(28 / 7)
    assert s.loc["a", "monetary_value"] == pytest.approx(30.0)  # (20 + 40) / 2, first left out
    assert s.loc["b", "frequency"] == 0 and s.loc["b", "monetary_value"] == 0
    assert s.loc["b", "T"] == pytest.approx(19 / 7)


def test_day_unit_gives_days(warehouse):
    table = _orders(warehouse, ROWS)
    s = rfm_summary(table, calibration_end=dt.date(2024, 1, 29), time_unit="day",
                    as_of=dt.date(2024, 2, 29)).execute().set_index("customer_id")
    assert s.loc["a", "recency"] == 14 and s.loc["a", "T"] == 28


def test_holdout_columns_count_what_happened_after_calibration(warehouse):
    table = _orders(warehouse, ROWS)
    s = calibration_holdout_summary(table, calibration_end=dt.date(2024, 1, 29),
                                    holdout_end=dt.date(2024, 2, 26)).execute()
    assert list(s.columns) == ["customer_id", "frequency", "recency", "T", "monetary_value",
                               "frequency_holdout", "monetary_value_holdout", "duration_holdout"]
    s = s.set_index("customer_id")
    assert s.loc["a", "frequency_holdout"] == 1 and s.loc["a", "monetary_value_holdout"] == 30.0
    assert s.loc["b", "frequency_holdout"] == 0
    assert s["duration_holdout"].iloc[0] == pytest.approx(4.0)


def test_negative_amount_is_refused_naming_the_customer(warehouse):
    table = _orders(warehouse, [*ROWS, ("c", "2024-01-03", -5.0, "paid")])
    with pytest.raises(InputError, match="customer c: amount -5 is negative"):
        rfm_summary(table, calibration_end=dt.date(2024, 1, 29), as_of=dt.date(2024, 3, 1))


def test_orders_after_the_as_of_date_are_refused(warehouse):
    table = _orders(warehouse, ROWS)
    with pytest.raises(InputError, match=r"customer a: ordered_at 2024-02-05.*after the as-of"):
        rfm_summary(table, calibration_end=dt.date(2024, 1, 29))


def test_cdnow_sample_summary_matches_the_published_counts(cdnow):
    assert len(cdnow) == 2357
    assert cdnow["frequency"].sum() == 2457  # repeat transactions, weeks 1-39
    assert (cdnow["frequency"] > 0).sum() == 946
    assert cdnow["frequency_holdout"].sum() == 1882
    first = cdnow.set_index("customer_id").loc["0001"]  # x=2, t_x=30.43, T=38.86
    assert (first["frequency"], round(first["recency"], 2), round(first["T"], 2)) == \
        (2, 30.43, 38.86)
