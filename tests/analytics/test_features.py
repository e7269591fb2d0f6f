"""Each feature on hand-built customers, at the edges of its window (D = 2025-06-30)."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import customer, event, interaction, load, order

from clm.analytics.feature_catalog import FEATURES
from clm.analytics.features import compute_features, feature_usage, order_dates
from clm.errors import InputError

D = dt.date(2025, 6, 30)


def days_before(n: int, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(D - dt.timedelta(days=n), dt.time(hour))


def run(warehouse, *, as_of: dt.date = D, **rows) -> dict[str, dict]:
    tables = load(warehouse, **rows)
    out = compute_features(tables, as_of=as_of).to_pyarrow().to_pylist()
    return {r["customer_id"]: r for r in out}


# -- shape --------------------------------------------------------------------------------------

def test_result_has_customer_id_then_catalog_features_with_catalog_types(warehouse):
    tables = load(warehouse, customers=[customer("a")])
    expr = compute_features(tables, as_of=D)
    assert expr.columns == ("customer_id", *(f.name for f in FEATURES))
    kinds = {"int": "int64", "float": "float64", "bool": "boolean"}
    for f in FEATURES:
        assert str(expr.schema()[f.name]).rstrip("!") == kinds[f.dtype], f.name


def test_customer_without_activity_gets_zeros_nulls_and_false(warehouse):
    row = run(warehouse, customers=[customer("idle")])["idle"]
    for f in FEATURES:
        value = row[f.name]
        if f.name.startswith("days_since") or f.name in {
            "avg_order_value", "first_order_amount", "aov_change_vs_first", "arpu_percentile",
            "usage_change_pct", "support_contacts_change_pct", "satisfaction_latest",
            "nps_latest", "tenure_days",
        }:
            assert value is None, f.name
        elif f.dtype == "bool":
            assert value is False, f.name
        else:
            assert value == 0, f.name


def test_every_customer_gets_exactly_one_row(warehouse):
    rows = run(warehouse, customers=[customer(c) for c in "abc"],
               orders=[order("a", days_before(1)), order("a", days_before(2))],
               events=[event("b", days_before(1), "login")])
    assert sorted(rows) == ["a", "b", "c"]


# -- orders -------------------------------------------------------------------------------------

def test_order_late_on_d_counts_and_first_instant_of_next_day_does_not(warehouse):
    rows = run(warehouse, orders=[
        order("a", dt.datetime(2025, 6, 30, 23, 0), 10),
        order("a", dt.datetime(2025, 7, 1, 0, 0), 1000),
    ])
    a = rows["a"]
    assert (a["order_count"], a["total_spend"], a["days_since_last_order"]) == (1, 10.0, 0)


def test_30_day_window_holds_29_days_back_but_not_30(warehouse):
    rows = run(warehouse,
               orders=[order("in", days_before(29), 5), order("out", days_before(30), 7)])
    assert (rows["in"]["orders_30d"], rows["in"]["spend_30d"]) == (1, 5.0)
    assert (rows["out"]["orders_30d"], rows["out"]["spend_30d"]) == (0, 0.0)
    assert rows["out"]["orders_prev_30d"] == 1


def test_previous_30_days_window_is_30_to_59_days_back(warehouse):
    rows = run(warehouse, orders=[
        order("a", days_before(30)), order("a", days_before(59, 0)),
        order("a", days_before(60, 23)),
    ])
    assert rows["a"]["orders_prev_30d"] == 2


def test_90_day_window_holds_89_days_back_but_not_90(warehouse):
    rows = run(warehouse, orders=[order("a", days_before(89), 30), order("a", days_before(90), 60)])
    a = rows["a"]
    assert (a["orders_90d"], a["spend_90d"], a["arpu_monthly"]) == (1, 30.0, 10.0)


def test_refunded_and_cancelled_orders_are_not_orders(warehouse):
    rows = run(warehouse, orders=[
        order("a", days_before(1), 50),
        order("a", days_before(2), 70, "refunded"),
        order("a", days_before(3), 90, "cancelled"),
        order("a", days_before(100), 80, "refunded"),
    ])
    a = rows["a"]
    assert (a["order_count"], a["total_spend"], a["orders_30d"]) == (1, 50.0, 1)
    assert a["refunds_90d"] == 1
    assert a["first_order_amount"] == 50.0 and a["days_since_first_order"] == 1


def test_only_refunded_orders_leave_order_features_empty(warehouse):
    a = run(warehouse, orders=[order("a", days_before(5), 40, "refunded")])["a"]
    assert (a["order_count"], a["days_since_first_order"], a["avg_order_value"]) == (0, None, None)
    assert (a["refunds_90d"], a["arpu_percentile"], a["tenure_days"]) == (1, None, 5)


def test_days_since_first_and_last_order(warehouse):
    a = run(warehouse, orders=[order("a", days_before(40)), order("a", days_before(3, 1))])["a"]
    assert (a["days_since_first_order"], a["days_since_last_order"]) == (40, 3)


def test_average_order_value_and_its_change_against_the_first_order(warehouse):
    a = run(warehouse, orders=[order("a", days_before(50), 100), order("a", days_before(10), 140),
                               order("a", days_before(5), 160)])["a"]
    assert (a["avg_order_value"], a["first_order_amount"], a["aov_change_vs_first"]) == (
        133.33, 100.0, 0.3333)


def test_orders_tied_at_the_earliest_instant_make_a_first_amount_of_their_mean(warehouse):
    first = dt.datetime(2025, 1, 2)
    a = run(warehouse, orders=[order("a", first, 10), order("a", first, 30),
                               order("a", days_before(5), 20)])["a"]
    assert a["first_order_amount"] == 20.0 and a["aov_change_vs_first"] == 0.0


def test_first_order_amount_of_zero_leaves_change_empty(warehouse):
    a = run(warehouse, orders=[order("a", days_before(9), 0), order("a", days_before(2), 10)])["a"]
    assert a["first_order_amount"] == 0.0 and a["aov_change_vs_first"] is None


def test_repurchases_exclude_the_first_order_only_when_it_is_in_the_window(warehouse):
    rows = run(warehouse, orders=[
        order("new", days_before(20)), order("new", days_before(10)), order("new", days_before(1)),
        order("old", days_before(45)), order("old", days_before(10)), order("old", days_before(1)),
    ])
    assert rows["new"]["repurchases_30d"] == 2
    assert rows["old"]["repurchases_30d"] == 2


def test_currency_is_rounded_to_cents(warehouse):
    a = run(warehouse, orders=[order("a", days_before(1), 10.0), order("a", days_before(2), 10.01),
                               order("a", days_before(3), 10.01)])["a"]
    assert (a["avg_order_value"], a["arpu_monthly"]) == (10.01, 10.01)


def test_arpu_percentile_orders_buyers_by_arpu_and_ties_share_a_rank(warehouse):
    rows = run(warehouse, customers=[customer("none")], orders=[
        order("low", days_before(1), 30), order("mid", days_before(1), 60),
        order("mid2", days_before(2), 60), order("high", days_before(1), 90),
        order("lapsed", days_before(200), 500),
    ])
    pct = {c: r["arpu_percentile"] for c, r in rows.items()}
    assert pct == {"lapsed": 0.0, "low": 0.25, "mid": 0.5, "mid2": 0.5, "high": 1.0, "none": None}


def _monthly(cid: str, months: list[tuple[int, int]]) -> list[dict]:
    return [order(cid, dt.datetime(y, m, 15)) for y, m in months]


def _months_back(n: int) -> tuple[int, int]:
    index = D.year * 12 + D.month - 1 - n
    return index // 12, index % 12 + 1


@pytest.mark.parametrize(("back", "expected"), [
    ([0, 1, 2], 3),           # ends in D's month
    ([1, 2, 3, 4], 4),         # D's month has no order yet: ends the month before
    ([0, 1, 3, 4, 5], 2),      # a gap breaks the streak
    ([2, 3, 4], 0),            # neither D's month nor the one before
    ([0], 1),
    (list(range(70)), 70),     # longer than the month mask: exact path
    ([*range(1, 66), *range(67, 80)], 65),   # long, ending the month before, gap far back
    ([*range(0, 63), *range(64, 90)], 63),
    ([*range(0, 61), 62], 61),   # one short of the mask: fast path
    ([*range(1, 61), 62], 60),
])
def test_active_months_streak(warehouse, back, expected):
    a = run(warehouse, orders=_monthly("a", [_months_back(n) for n in back]))["a"]
    assert a["active_months_streak"] == expected


def test_streak_counts_calendar_months_not_30_day_periods(warehouse):
    orders = [order("a", dt.datetime(2025, 5, 31, 23)), order("a", dt.datetime(2025, 6, 1, 0))]
    assert run(warehouse, orders=orders)["a"]["active_months_streak"] == 2


def test_streak_ignores_refunded_months(warehouse):
    orders = [order("a", dt.datetime(2025, 6, 2)), order("a", dt.datetime(2025, 4, 2)),
              order("a", dt.datetime(2025, 5, 2), 1, "refunded")]
    assert run(warehouse, orders=orders)["a"]["active_months_streak"] == 1


# -- events -------------------------------------------------------------------------------------

def test_marketing_touch_counts_and_their_windows(warehouse):
    a = run(warehouse, events=[
        event("a", days_before(89), "page_view"), event("a", days_before(90), "page_view"),
        event("a", days_before(400), "lead_form"), event("a", days_before(0), "lead_form"),
        event("a", days_before(-1), "lead_form"),
        event("a", days_before(10), "marketing_event"),
        event("a", days_before(95), "marketing_event"),
        event("a", days_before(3), "content_interaction"),
    ])["a"]
    assert (a["page_views_90d"], a["lead_forms_total"], a["marketing_events_90d"]) == (1, 2, 1)
    assert a["content_interactions_90d"] == 1


def test_onboarding_completed_and_days_since_first_completion(warehouse):
    rows = run(warehouse, events=[
        event("a", days_before(12), "onboarding_completed"),
        event("a", days_before(2), "onboarding_completed"),
        event("later", days_before(-3), "onboarding_completed"),
    ])
    assert (rows["a"]["onboarding_completed"], rows["a"]["days_since_onboarding"]) == (True, 12)
    assert (rows["later"]["onboarding_completed"], rows["later"]["days_since_onboarding"]) == (
        False, None)


def test_active_days_count_distinct_dates_of_any_event_in_30_days(warehouse):
    a = run(warehouse, events=[
        event("a", days_before(0, 1), "login"), event("a", days_before(0, 23), "page_view"),
        event("a", days_before(29), "feature_used", "reports"),
        event("a", days_before(30), "login"),
    ])["a"]
    assert a["active_days_30d"] == 2


def test_feature_and_login_counts_and_distinct_features(warehouse):
    a = run(warehouse, events=[
        event("a", days_before(1), "feature_used", "reports"),
        event("a", days_before(2), "feature_used", "reports"),
        event("a", days_before(3), "feature_used", "export"),
        event("a", days_before(40), "feature_used", "alerts"),
        event("a", days_before(4), "login"),
    ])["a"]
    assert (a["feature_uses_30d"], a["distinct_features_30d"], a["logins_30d"]) == (3, 2, 1)
    assert (a["usage_30d"], a["usage_prev_30d"]) == (4, 1)


@pytest.mark.parametrize(("now", "before", "change"), [
    (2, 4, -0.5), (3, 1, 2.0), (0, 2, -1.0), (3, 0, None), (0, 0, None), (2, 3, -0.3333),
])
def test_usage_change_against_the_previous_30_days(warehouse, now, before, change):
    events = [event("a", days_before(i % 30), "login") for i in range(now)]
    events += [event("a", days_before(30 + i % 30), "feature_used", "api") for i in range(before)]
    events.append(event("a", days_before(70), "login"))  # outside both windows
    a = run(warehouse, events=events)["a"]
    assert (a["usage_30d"], a["usage_prev_30d"], a["usage_change_pct"]) == (now, before, change)


# -- interactions -------------------------------------------------------------------------------

def test_support_contacts_and_their_change(warehouse):
    rows = run(warehouse, interactions=[
        interaction("a", days_before(1), "support_contact"),
        interaction("a", days_before(31), "support_contact"),
        interaction("a", days_before(45), "support_contact"),
        interaction("a", days_before(2), "complaint"),
        interaction("b", days_before(3), "support_contact"),
    ])
    a, b = rows["a"], rows["b"]
    assert (a["support_contacts_30d"], a["support_contacts_prev_30d"]) == (1, 2)
    assert a["support_contacts_change_pct"] == -0.5 and a["complaints_90d"] == 1
    assert b["support_contacts_change_pct"] is None


def test_complaints_in_90_days(warehouse):
    a = run(warehouse, interactions=[interaction("a", days_before(89), "complaint"),
                                     interaction("a", days_before(90), "complaint")])["a"]
    assert a["complaints_90d"] == 1


def test_latest_scores_are_the_newest_on_or_before_d(warehouse):
    a = run(warehouse, interactions=[
        interaction("a", days_before(100), "satisfaction", 4),
        interaction("a", days_before(3), "satisfaction", 9.5),
        interaction("a", days_before(-1), "satisfaction", 1),
        interaction("a", days_before(1), "satisfaction", None),
        interaction("a", days_before(8), "nps", 7),
    ])["a"]
    assert (a["satisfaction_latest"], a["nps_latest"]) == (9.5, 7.0)


def test_scores_tied_at_the_latest_instant_are_averaged(warehouse):
    a = run(warehouse, interactions=[interaction("a", days_before(2), "nps", 6),
                                     interaction("a", days_before(2), "nps", 9)])["a"]
    assert a["nps_latest"] == 7.5


def test_referrals_total_and_in_90_days(warehouse):
    a = run(warehouse, interactions=[
        interaction("a", days_before(10), "referral", referred="x"),
        interaction("a", days_before(200), "referral", referred="y"),
        interaction("a", days_before(-5), "referral", referred="z"),
    ])["a"]
    assert (a["referrals_total"], a["referrals_90d"]) == (2, 1)


# -- account ------------------------------------------------------------------------------------

def test_unsubscribe_and_closure_count_from_their_date_on(warehouse):
    rows = run(warehouse, customers=[
        customer("on_d", unsubscribed_on=D, account_closed_on=D),
        customer("after", unsubscribed_on=D + dt.timedelta(days=1),
                 account_closed_on=D + dt.timedelta(days=1)),
    ])
    assert (rows["on_d"]["unsubscribed"], rows["on_d"]["account_closed"]) == (True, True)
    assert (rows["after"]["unsubscribed"], rows["after"]["account_closed"]) == (False, False)


def test_tenure_starts_at_the_earliest_known_activity(warehouse):
    rows = run(warehouse, customers=[
        customer("signup", signup_date=D - dt.timedelta(days=300)),
        customer("future_signup", signup_date=D + dt.timedelta(days=3)),
    ], orders=[order("signup", days_before(20)),
               order("future_signup", days_before(7), 5, "cancelled")],
        events=[event("future_signup", days_before(9), "page_view")],
        interactions=[interaction("future_signup", days_before(11), "support_contact")])
    assert rows["signup"]["tenure_days"] == 300
    assert rows["future_signup"]["tenure_days"] == 11


# -- inputs and companions ----------------------------------------------------------------------

def test_datetime_as_of_is_refused(warehouse):
    tables = load(warehouse, customers=[customer("a")])
    with pytest.raises(InputError, match="as_of must be a date"):
        compute_features(tables, as_of=dt.datetime(2025, 6, 30, 12))


def test_missing_table_or_column_is_named(warehouse):
    tables = load(warehouse, customers=[customer("a")])
    with pytest.raises(InputError, match="'events' table is missing"):
        compute_features({k: v for k, v in tables.items() if k != "events"}, as_of=D)
    broken = dict(tables, orders=tables["orders"].drop("status"))
    with pytest.raises(InputError, match="no column 'status'") as info:
        compute_features(broken, as_of=D)
    assert info.value.context == {"table": "orders", "field": "status"}


def test_order_dates_are_first_and_last_paid_order_dates_up_to_d(warehouse):
    tables = load(warehouse, customers=[customer("none")], orders=[
        order("a", dt.datetime(2025, 1, 5, 8)), order("a", dt.datetime(2025, 6, 30, 23)),
        order("a", dt.datetime(2025, 7, 1)), order("a", dt.datetime(2024, 1, 1), 5, "refunded"),
    ])
    out = {r["customer_id"]: r for r in order_dates(tables, as_of=D).to_pyarrow().to_pylist()}
    assert out["a"]["first_order_date"] == dt.date(2025, 1, 5)
    assert out["a"]["last_order_date"] == dt.date(2025, 6, 30)
    assert out["none"]["first_order_date"] is None


def test_feature_usage_counts_uses_per_feature_in_the_window(warehouse):
    tables = load(warehouse, events=[
        event("a", days_before(0), "feature_used", "reports"),
        event("a", days_before(6), "feature_used", "reports"),
        event("a", days_before(7), "feature_used", "reports"),
        event("a", days_before(1), "feature_used", "export"),
        event("a", days_before(-1), "feature_used", "export"),
        event("a", days_before(1), "login"),
        event("b", days_before(2), "feature_used", None),
    ])
    out = feature_usage(tables, as_of=D, window_days=7).to_pyarrow().to_pylist()
    assert sorted((r["customer_id"], r["feature"], r["uses"]) for r in out) == [
        ("a", "export", 1), ("a", "reports", 2)]
    with pytest.raises(InputError, match="window_days"):
        feature_usage(tables, as_of=D, window_days=0)
