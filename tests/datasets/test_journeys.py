"""Each archetype behaves, at the end date, the way its lifecycle stage is defined (spec s. 2)."""

from __future__ import annotations

import pandas as pd
import pytest

from clm.datasets import ARCHETYPES


def _of(facts: pd.DataFrame, archetype: str) -> pd.DataFrame:
    rows = facts[facts["archetype"] == archetype]
    assert len(rows) > 0, archetype
    return rows


def test_prospects_never_order_and_each_shows_interest(facts):
    rows = _of(facts, "prospect")
    assert (rows["orders"] == 0).all()
    interest = (rows["lead_forms"] > 0) | (rows["marketing_events_90d"] > 0) | (
        rows["page_views_90d"] >= 3)
    assert interest.all()


def test_new_buyers_first_ordered_within_30_days_and_at_most_once_more(facts):
    rows = _of(facts, "new")
    assert (rows["days_since_first"] <= 29).all()
    assert rows["orders"].between(1, 2).all()
    assert (rows["repurchases_30d"] <= 1).all()


def test_growing_customers_repurchase_twice_in_30_days_with_rising_order_value(facts):
    rows = _of(facts, "growing")
    assert (rows["repurchases_30d"] >= 2).all()
    assert (rows["aov_ratio"] >= 1.2).mean() >= 0.95
    assert (rows["features_30d"] >= 3).mean() >= 0.6


def test_growing_customers_have_no_order_two_months_before_the_end_month(demo, facts):
    growing = _of(facts, "growing").index
    orders = demo.clean("orders")
    paid = orders[(orders["status"] == "paid") & orders["customer_id"].isin(growing)]
    two_back = pd.Timestamp(demo.end).to_period("M") - 2
    assert not (paid["ordered_at"].dt.to_period("M") == two_back).any()


def test_mature_customers_order_in_each_of_the_three_months_before_the_end_month(demo, facts):
    mature = _of(facts, "mature")
    orders = demo.clean("orders")
    paid = orders[(orders["status"] == "paid") & orders["customer_id"].isin(mature.index)]
    months = paid.assign(m=paid["ordered_at"].dt.to_period("M")).groupby("customer_id")["m"]
    end_month = pd.Timestamp(demo.end).to_period("M")
    wanted = {end_month - 1, end_month - 2, end_month - 3}
    assert months.agg(lambda m: wanted <= set(m)).all()
    assert (mature["days_since_last"] < 60).all()


def test_mature_customers_are_the_high_spenders_and_the_referrers(facts):
    rows = _of(facts, "mature")
    assert (rows["arpu_percentile"] >= 0.8).mean() >= 0.6
    assert (rows["referrals"] >= 1).mean() >= 0.4
    others = facts[facts["archetype"] != "mature"]
    assert (others["referrals"] == 0).all()


def test_declining_customers_stopped_ordering_60_to_90_days_ago(facts):
    rows = _of(facts, "declining")
    assert rows["days_since_last"].between(61, 88).all()
    assert not (rows["unsubscribed"] | rows["closed"]).any()


def test_declining_customers_halve_usage_and_cut_support_contacts(facts):
    rows = _of(facts, "declining")
    assert (rows["usage_prev_30d"] > 0).all()
    assert (rows["usage_30d"] <= 0.5 * rows["usage_prev_30d"]).all()
    assert (rows["support_prev_30d"] > 0).all()
    assert (rows["support_30d"] <= 0.7 * rows["support_prev_30d"]).all()


def test_active_customers_never_show_falling_support_contacts(facts):
    active = facts[facts["archetype"].isin(["new", "growing", "mature", "returned"])]
    assert (active["support_30d"] >= active["support_prev_30d"]).all()


def test_engaged_customers_rarely_look_like_their_usage_halved(facts):
    rows = facts[facts["archetype"].isin(["growing", "mature"])]
    halved = (rows["usage_prev_30d"] > 0) & (rows["usage_30d"] <= 0.5 * rows["usage_prev_30d"])
    assert halved.mean() <= 0.01


def test_churned_customers_are_silent_for_more_than_90_days(facts):
    rows = _of(facts, "churned")
    assert (rows["days_since_last"] > 90).all()
    assert (rows["events_60d"] == 0).all() and (rows["interactions_60d"] == 0).all()


def test_some_churned_customers_unsubscribe_or_close_their_account_and_nobody_else(facts):
    rows = _of(facts, "churned")
    assert 0.2 <= rows["unsubscribed"].mean() <= 0.5
    assert 0.1 <= rows["closed"].mean() <= 0.3
    others = facts[facts["archetype"] != "churned"]
    assert not (others["unsubscribed"] | others["closed"]).any()


def test_returned_customers_came_back_after_more_than_90_silent_days(facts):
    rows = _of(facts, "returned")
    assert (rows["max_gap"] > 90).all()
    assert (rows["days_since_last"] <= 29).all()


def test_referrals_point_at_customers_who_signed_up_later_through_referral(demo, facts):
    inter = demo.clean("interactions")
    refs = inter[inter["interaction_type"] == "referral"]
    assert len(refs) > 0
    customers = demo.clean("customers").set_index("customer_id")
    referee = customers.loc[refs["referred_customer_id"]]
    assert (referee["signup_date"].to_numpy() > refs["occurred_at"].dt.normalize().to_numpy()).all()
    assert (referee["acquisition_channel"] == "referral").all()
    assert (refs["occurred_at"].dt.normalize().to_numpy()
            >= facts.loc[refs["customer_id"], "first"].to_numpy()).all()
    assert refs["referred_customer_id"].is_unique


def test_nothing_happens_before_signup_or_after_the_end_date(demo):
    customers = demo.clean("customers").set_index("customer_id")
    end = pd.Timestamp(demo.end) + pd.Timedelta(days=1)
    stamps = {"orders": "ordered_at", "events": "occurred_at", "interactions": "occurred_at"}
    for table, column in stamps.items():
        frame = demo.clean(table)
        frame = frame[frame["customer_id"].isin(customers.index)]
        signup = customers.loc[frame["customer_id"], "signup_date"].to_numpy()
        assert (frame[column].to_numpy() >= signup).all(), table
        assert (frame[column] < end).all(), table


@pytest.mark.parametrize("stage,low,high", [
    ("prospect", 0.15, 0.25), ("new", 0.05, 0.10), ("growing", 0.10, 0.20),
    ("mature", 0.15, 0.25), ("declining", 0.10, 0.15), ("churned", 0.15, 0.25),
])
def test_every_stage_is_expected_in_sensible_proportions(demo, stage, low, high):
    stages = pd.Series(demo.expected_stages)
    assert low <= (stages == stage).mean() <= high


def test_signups_spread_over_the_two_years(facts):
    quarters = facts["signup"].dt.to_period("Q").value_counts(normalize=True)
    assert len(quarters) == 8
    assert quarters.min() >= 0.05


def test_every_archetype_has_labels_in_both_languages():
    from clm.domain.i18n import LOCALES

    for archetype in ARCHETYPES:
        for texts in (archetype.label, archetype.description):
            assert set(texts) == set(LOCALES)
            assert all(texts.values()) and texts["en"] != texts["zh-CN"]
