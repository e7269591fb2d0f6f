import datetime as dt

import pytest
from factories import order
from value_helpers import PIT_AS_OF, frame_equal

from clm.analytics.value.tiers import arpu, value_tiers
from clm.errors import InputError

D = dt.date(2024, 3, 31)


def _spend(amounts: dict[str, float]) -> list[dict]:
    return [order(cid, "2024-03-01", amount) for cid, amount in amounts.items()]


def test_an_80_15_5_distribution_splits_into_a_b_and_c(tables):
    amounts = {"a1": 40, "a2": 40, "b1": 5, "b2": 5, "b3": 5,
               "c1": 1, "c2": 1, "c3": 1, "c4": 1, "c5": 1}
    t = tables(orders=_spend(amounts))
    got = value_tiers(t["orders"], as_of=D).execute().set_index("customer_id")
    assert got["value_tier"].to_dict() == {cid: cid[0].upper() for cid in amounts}
    assert got.loc["a2", "cumulative_share"] == pytest.approx(0.80)
    assert got.loc["b3", "cumulative_share"] == pytest.approx(0.95)
    assert got.loc["c5", "cumulative_share"] == pytest.approx(1.0)
    assert got.loc["a1", "spend_rank"] == 1


def test_the_customer_crossing_a_line_belongs_to_the_higher_tier(tables):
    # w alone holds 90 %: w is A although its cumulative share passes 80 %
    t = tables(orders=_spend({"w": 90, "x": 6, "y": 3, "z": 1}))
    got = value_tiers(t["orders"], as_of=D).execute().set_index("customer_id")
    assert got["value_tier"].to_dict() == {"w": "A", "x": "B", "y": "C", "z": "C"}


def test_spend_ties_are_cut_by_customer_id(tables):
    t = tables(orders=_spend({"k2": 50, "k1": 50, "k3": 50}))
    got = value_tiers(t["orders"], as_of=D, a_share=0.3, b_share=0.6).execute()
    got = got.set_index("customer_id")
    assert got["spend_rank"].to_dict() == {"k1": 1, "k2": 2, "k3": 3}
    assert got["value_tier"].to_dict() == {"k1": "A", "k2": "B", "k3": "C"}


def test_only_paid_orders_up_to_as_of_make_spend(tables):
    t = tables(orders=[order("a", "2024-03-01", 10), order("a", "2024-04-01", 1000),
                       order("b", "2024-03-01", 90), order("b", "2024-03-02", 500, "refunded")])
    got = value_tiers(t["orders"], as_of=D).execute().set_index("customer_id")
    assert got["total_spend"].to_dict() == {"a": 10.0, "b": 90.0}
    assert got["value_tier"].to_dict() == {"b": "A", "a": "B"}


def test_tier_shares_must_be_ordered(tables):
    t = tables(orders=_spend({"a": 1}))
    with pytest.raises(InputError, match="a_share <= b_share"):
        value_tiers(t["orders"], as_of=D, a_share=0.9, b_share=0.8)


def test_arpu_is_spend_of_the_last_90_days_per_month_and_ranked_among_buyers(tables):
    t = tables(orders=[
        order("a", "2024-03-31", 300),             # in window
        order("a", "2024-01-02T00:00:00", 900),    # day D-89: first day of the window
        order("b", "2024-01-01T23:59:00", 600),    # day D-90: outside
        order("b", "2024-02-15", 30),
        order("c", "2023-06-01", 5000),            # bought, but not in the window
        order("d", "2024-03-10", 30),
    ])
    got = arpu(t["orders"], as_of=D).execute().set_index("customer_id")
    assert got["arpu_monthly"].to_dict() == pytest.approx({"a": 400.0, "b": 10.0, "c": 0.0,
                                                           "d": 10.0})
    # rank / (n - 1): c=0, b and d tie at rank 1, a is highest
    assert got["arpu_percentile"].to_dict() == pytest.approx({"c": 0.0, "b": 1 / 3,
                                                              "d": 1 / 3, "a": 1.0})


def test_arpu_percentile_of_a_single_buyer_is_zero_like_percent_rank(tables):
    t = tables(orders=[order("a", "2024-03-31", 300)])
    assert arpu(t["orders"], as_of=D).execute()["arpu_percentile"].tolist() == [0.0]


def test_orders_after_as_of_change_neither_tiers_nor_arpu(pit_tables):
    full, cut = pit_tables
    for fn in (value_tiers, arpu):
        frame_equal(fn(full["orders"], as_of=PIT_AS_OF).execute(),
                    fn(cut["orders"], as_of=PIT_AS_OF).execute(), sort_by=["customer_id"])
