"""One default demo company per test session, and its per-customer facts at the end date.

The facts are computed here with plain pandas, independently of the feature engine that is
written elsewhere, using the windows of ``clm.analytics.feature_catalog`` (a window of 30 days
ending on D holds dates in (D-30, D]).
"""

from __future__ import annotations

import pandas as pd
import pytest

from clm.datasets import DemoData, generate_demo


@pytest.fixture(scope="session")
def demo() -> DemoData:
    """The demo company with its default arguments (read-only: do not mutate)."""
    return generate_demo()


def _window(days: pd.Series, end: pd.Timestamp, lo: int, hi: int) -> pd.Series:
    """Dates in (end - lo, end - hi] as a boolean mask."""
    return (days > end - pd.Timedelta(days=lo)) & (days <= end - pd.Timedelta(days=hi))


@pytest.fixture(scope="session")
def facts(demo: DemoData) -> pd.DataFrame:
    """Per customer: archetype, order facts, usage, support and referral counts at ``end``."""
    end = pd.Timestamp(demo.end)
    customers = demo.clean("customers").set_index("customer_id")
    orders = demo.clean("orders")
    paid = orders[orders["status"] == "paid"].assign(day=lambda f: f["ordered_at"].dt.normalize())
    paid = paid.sort_values(["customer_id", "ordered_at"])
    by = paid.groupby("customer_id")
    out = pd.DataFrame(index=customers.index)
    out["archetype"] = pd.Series(demo.archetypes)
    out["orders"] = by.size()
    out["first"] = by["day"].min()
    out["last"] = by["day"].max()
    out["aov_ratio"] = by["amount"].mean() / by["amount"].first()
    recent = paid[_window(paid["day"], end, 30, 0)]
    out["repurchases_30d"] = recent[recent["day"] > recent["customer_id"].map(out["first"])
                                    ].groupby("customer_id").size()
    out["spend_90d"] = paid[_window(paid["day"], end, 90, 0)].groupby("customer_id")["amount"].sum()
    out["max_gap"] = by["day"].agg(lambda d: d.diff().dt.days.max())

    events = demo.clean("events").assign(day=lambda f: f["occurred_at"].dt.normalize())
    use = events[events["event_type"].isin(["login", "feature_used"])]
    out["usage_30d"] = use[_window(use["day"], end, 30, 0)].groupby("customer_id").size()
    out["usage_prev_30d"] = use[_window(use["day"], end, 60, 30)].groupby("customer_id").size()
    feats = events[(events["event_type"] == "feature_used") & _window(events["day"], end, 30, 0)]
    out["features_30d"] = feats.groupby("customer_id")["feature"].nunique()
    views = events[(events["event_type"] == "page_view") & _window(events["day"], end, 90, 0)]
    out["page_views_90d"] = views.groupby("customer_id").size()
    out["lead_forms"] = events[events["event_type"] == "lead_form"].groupby("customer_id").size()
    shows = events[(events["event_type"] == "marketing_event") & _window(events["day"], end, 90, 0)]
    out["marketing_events_90d"] = shows.groupby("customer_id").size()
    out["events_60d"] = events[_window(events["day"], end, 60, 0)].groupby("customer_id").size()

    inter = demo.clean("interactions").assign(day=lambda f: f["occurred_at"].dt.normalize())
    support = inter[inter["interaction_type"] == "support_contact"]
    out["support_30d"] = support[_window(support["day"], end, 30, 0)].groupby("customer_id").size()
    out["support_prev_30d"] = support[_window(support["day"], end, 60, 30)
                                      ].groupby("customer_id").size()
    out["referrals"] = inter[inter["interaction_type"] == "referral"].groupby("customer_id").size()
    out["interactions_60d"] = inter[_window(inter["day"], end, 60, 0)].groupby("customer_id").size()

    counts = [c for c in out.columns if c not in ("archetype", "first", "last", "aov_ratio",
                                                  "spend_90d", "max_gap")]
    out[counts] = out[counts].fillna(0).astype(int)
    out["spend_90d"] = out["spend_90d"].fillna(0.0)
    buyers = out["orders"] > 0
    out["arpu_percentile"] = (out.loc[buyers, "spend_90d"] / 3).rank(pct=True)
    out["days_since_first"] = (end - out["first"]).dt.days
    out["days_since_last"] = (end - out["last"]).dt.days
    out["unsubscribed"] = customers["unsubscribed_on"].notna()
    out["closed"] = customers["account_closed_on"].notna()
    out["signup"] = customers["signup_date"]
    return out

