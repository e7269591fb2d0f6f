"""Each criterion of the default model (spec section 2), with a hand-built customer at its boundary.

Every case is a first run (no previous stage), so the thresholds are read as written: the margin
only makes *leaving* a stage harder (see test_assign.py). The neutral customer is a repeat buyer
whom no criterion holds; the fallback makes them ``growing`` with the reason ``fallback``, so a
criterion of ``growing`` is told apart from the fallback by its reason.
"""

from __future__ import annotations

import pytest
from rule_helpers import LEAD, customer

RECENT = {"days_since_first_order": 20, "days_since_last_order": 5, "order_count": 1}
CASES = [
    # churned
    ("more than 90 days: 90 is not churned", customer(days_since_last_order=90), "declining", None),
    (
        "more than 90 days: 91 is churned",
        customer(days_since_last_order=91),
        "churned",
        "days_since_last_order = 91 > 90",
    ),
    (
        "unsubscribed, 30 days without order: not churned",
        customer(unsubscribed=True, days_since_last_order=30),
        "growing",
        "fallback",
    ),
    (
        "unsubscribed, 31 days without order: churned",
        customer(unsubscribed=True, days_since_last_order=31),
        "churned",
        "unsubscribed = true; days_since_last_order = 31 > 30",
    ),
    (
        "subscribed, 31 days without order: not churned",
        customer(days_since_last_order=31),
        "growing",
        "fallback",
    ),
    ("closed account: churned", customer(account_closed=True), "churned", "account_closed = true"),
    (
        "closed account without orders: churned",
        customer(LEAD, account_closed=True),
        "churned",
        "account_closed = true",
    ),
    # declining
    (
        "no order for 59 days: not declining",
        customer(days_since_last_order=59),
        "growing",
        "fallback",
    ),
    (
        "no order for 60 days: declining",
        customer(days_since_last_order=60),
        "declining",
        "days_since_last_order = 60 >= 60",
    ),
    (
        "usage down 49%: not declining",
        customer(usage_change_pct=-0.49, usage_30d=10, usage_prev_30d=20),
        "growing",
        "fallback",
    ),
    (
        "usage down 50%: declining",
        customer(usage_change_pct=-0.5, usage_30d=10, usage_prev_30d=20),
        "declining",
        "usage_change_pct = -0.5 <= -50%; usage_prev_30d = 20 >= 10",
    ),
    (
        "usage down 50% from 9 uses: guard, not declining",
        customer(usage_change_pct=-0.5, usage_30d=4, usage_prev_30d=9),
        "growing",
        "fallback",
    ),
    (
        "usage change unknown: not declining",
        customer(usage_change_pct=None, usage_prev_30d=0),
        "growing",
        "fallback",
    ),
    (
        "support contacts down 29%: not declining",
        customer(support_contacts_change_pct=-0.29, support_contacts_prev_30d=10),
        "growing",
        "fallback",
    ),
    (
        "support contacts down 30%: declining",
        customer(
            support_contacts_change_pct=-0.3, support_contacts_prev_30d=10, support_contacts_30d=7
        ),
        "declining",
        "support_contacts_change_pct = -0.3 <= -30%; support_contacts_prev_30d = 10 >= 3",
    ),
    (
        "support contacts 2 -> 0: guard, not declining",
        customer(support_contacts_change_pct=-1.0, support_contacts_prev_30d=2),
        "growing",
        "fallback",
    ),
    (
        "usage down 50% without any order: prospect, not declining",
        customer(LEAD, usage_change_pct=-0.6, usage_prev_30d=20),
        "prospect",
        None,
    ),
    # mature
    ("2 months in a row: not mature", customer(active_months_streak=2), "growing", "fallback"),
    (
        "3 months in a row: mature",
        customer(active_months_streak=3),
        "mature",
        "active_months_streak = 3 >= 3",
    ),
    ("ARPU percentile 0.79: not mature", customer(arpu_percentile=0.79), "growing", "fallback"),
    (
        "ARPU percentile 0.80: mature (top 20%)",
        customer(arpu_percentile=0.8),
        "mature",
        "arpu_percentile = 0.8 >= 80%",
    ),
    (
        "no referral: not mature",
        customer(referrals_90d=0, referrals_total=3),
        "growing",
        "fallback",
    ),
    (
        "one referral: mature",
        customer(referrals_90d=1, referrals_total=1),
        "mature",
        "referrals_90d = 1 >= 1",
    ),
    (
        "one order cannot be mature (guard)",
        customer(order_count=1, arpu_percentile=0.95),
        "new",
        "fallback; order_count = 1 == 1",
    ),
    # growing
    (
        "1 repurchase in 30 days: not growing by it",
        customer(repurchases_30d=1, orders_30d=1, orders_90d=2),
        "growing",
        "fallback",
    ),
    (
        "2 repurchases in 30 days: growing",
        customer(repurchases_30d=2, orders_30d=2, orders_90d=3),
        "growing",
        "repurchases_30d = 2 >= 2",
    ),
    (
        "AOV 19% above first: not growing by it",
        customer(aov_change_vs_first=0.19),
        "growing",
        "fallback",
    ),
    (
        "AOV 20% above first: growing",
        customer(aov_change_vs_first=0.2),
        "growing",
        "aov_change_vs_first = 0.2 >= 20%",
    ),
    (
        "2 core features: not growing by it",
        customer(distinct_features_30d=2),
        "growing",
        "fallback",
    ),
    (
        "3 core features: growing",
        customer(distinct_features_30d=3),
        "growing",
        "distinct_features_30d = 3 >= 3",
    ),
    (
        "3 features but a single order: new, not growing (guard)",
        customer(order_count=1, distinct_features_30d=3),
        "new",
        "fallback; order_count = 1 == 1",
    ),
    # new
    (
        "first order 30 days ago: new",
        customer(**{**RECENT, "days_since_first_order": 30}),
        "new",
        "days_since_first_order = 30 <= 30",
    ),
    (
        "first order 31 days ago: not new by it",
        customer(**{**RECENT, "days_since_first_order": 31, "order_count": 2}),
        "growing",
        "fallback",
    ),
    (
        "onboarding 30 days ago: new",
        customer(onboarding_completed=True, days_since_onboarding=30, order_count=2),
        "new",
        "onboarding_completed = true; days_since_onboarding = 30 <= 30",
    ),
    (
        "onboarding 31 days ago: not new",
        customer(onboarding_completed=True, days_since_onboarding=31),
        "growing",
        "fallback",
    ),
    (
        "onboarding without an order: prospect",
        customer(LEAD, onboarding_completed=True, days_since_onboarding=3),
        "prospect",
        None,
    ),
    (
        "came back after 60 days without orders: new",
        customer(order_count=6, orders_30d=1, orders_90d=1, days_since_last_order=3),
        "new",
        "orders_30d = 1 >= 1; orders_90d = 1 == orders_30d (1); order_count = 6 > orders_30d (1)",
    ),
    (
        "ordered in the 30-60 day window too: not a return",
        customer(order_count=6, orders_30d=1, orders_90d=2, days_since_last_order=3),
        "growing",
        "fallback",
    ),
    # prospect
    (
        "no order, 2 page views: prospect by fallback",
        customer(LEAD, page_views_90d=2),
        "prospect",
        "fallback; coalesce(order_count, 0) = 0 == 0",
    ),
    (
        "no order, 3 page views: prospect",
        customer(LEAD, page_views_90d=3),
        "prospect",
        "page_views_90d = 3 >= 3",
    ),
    (
        "no order, joined an event: prospect",
        customer(LEAD, marketing_events_90d=1),
        "prospect",
        "marketing_events_90d = 1 >= 1",
    ),
    (
        "no order, filled a lead form: prospect",
        customer(LEAD, lead_forms_total=1),
        "prospect",
        "lead_forms_total = 1 >= 1",
    ),
    (
        "order count unknown counts as no order",
        customer(LEAD, order_count=None),
        "prospect",
        "fallback; coalesce(order_count, 0) = 0 == 0",
    ),
]


@pytest.fixture(scope="module")
def results(run):
    """All boundary customers assigned in one batch (one engine query for the whole table)."""
    return run([c[1] for c in CASES])


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_default_criterion_at_its_boundary(results, index):
    _, _, stage, reasons = CASES[index]
    result = results[index]
    assert result["stage"] == stage, result
    if reasons is not None:
        assert result["reasons"] == reasons


def test_one_customer_alone_gets_what_it_gets_in_the_batch(run, results):
    [alone] = run([CASES[1][1]])
    assert alone == {**results[1], "customer_id": "c0"}


def test_neutral_customer_matches_no_criterion(run):
    [result] = run([customer()])
    assert (result["stage"], result["reasons"], result["grey_zone"]) == (
        "growing",
        "fallback",
        False,
    )


def test_every_number_of_spec_section_2_is_in_the_default_model(default_model):
    texts = " ".join(c.text for c in default_model.criteria())
    for number in ("3", "30", "2", "20%", "80%", "1", "60", "-50%", "-30%", "90"):
        assert f" {number}" in texts, number
    needed = [
        "page_views_90d >= 3",
        "marketing_events_90d >= 1",
        "lead_forms_total >= 1",
        "days_since_first_order <= 30",
        "onboarding_completed",
        "repurchases_30d >= 2",
        "aov_change_vs_first >= 20%",
        "distinct_features_30d >= 3",
        "active_months_streak >= 3",
        "arpu_percentile >= 80%",
        "referrals_90d >= 1",
        "days_since_last_order >= 60",
        "usage_change_pct <= -50%",
        "support_contacts_change_pct <= -30%",
        "days_since_last_order > 90",
        "unsubscribed",
        "account_closed",
    ]
    for fragment in needed:
        assert fragment in texts, fragment
