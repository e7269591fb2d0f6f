"""Behaviour features from the product-analytics events, in one conditional aggregate.

Usage (``usage_30d``) is logins plus feature uses: the two event types that mean someone
worked in the product, as opposed to marketing touches (page views, lead forms, campaign
events). Active days count any event type, since any of them is a sign of life. Distinct
features count ``feature`` values of ``feature_used`` events only; the tracking record's
"usage count per core feature" is ``feature_usage``.
"""

from __future__ import annotations

import ibis.expr.types as ir

from clm.analytics.features.asof import AsOf
from clm.analytics.features.bits import bit, bit_or, popcount32

USAGE_TYPES = ("login", "feature_used")


def window_columns(e: ir.Table, asof: AsOf) -> dict[str, ir.Value]:
    """The event aggregates over windows ending at D (none reaches back more than 90 days).

    ``active_day_mask_30d`` holds bit k for an event k days before D (``active_days``
    counts them).
    """
    ts, kind = e.occurred_at, e.event_type
    in30, in90 = asof.within(ts, 30), asof.within(ts, 90)
    day, fits = bit(asof.days_since(ts), 30)
    return {
        "page_views_90d": e.count(where=(kind == "page_view") & in90),
        "marketing_events_90d": e.count(where=(kind == "marketing_event") & in90),
        "logins_30d": e.count(where=(kind == "login") & in30),
        "feature_uses_30d": e.count(where=(kind == "feature_used") & in30),
        "usage_prev_30d": e.count(where=kind.isin(USAGE_TYPES) & asof.between(ts, 30, 60)),
        "content_interactions_90d": e.count(where=(kind == "content_interaction") & in90),
        "active_day_mask_30d": bit_or(day, where=in30 & fits),
    }


def active_days(mask: ir.IntegerValue) -> ir.IntegerValue:
    """``active_days_30d`` from ``active_day_mask_30d`` (0 without events)."""
    return popcount32(mask.fill_null(0))


def distinct_counts(events: ir.Table, asof: AsOf) -> ir.Table:
    """``customer_id``, ``distinct_features_30d``: distinct ``feature`` values of the
    ``feature_used`` events of the last 30 days.

    Kept out of the main aggregates on purpose. Over the whole history, a DISTINCT aggregate
    made DuckDB hash every row into per-customer sets (measured at 1M customers: the events
    aggregate took 1.7x as long with it). In a carried state's aggregate, which reads only
    the windows' rows, it still had to read every event's ``feature`` string: 0.9 s more per
    date, against 0.35 s for this query, which reads the 30 days' feature uses only.
    """
    e = events.filter(
        (events.occurred_at < asof.end)
        & asof.within(events.occurred_at, 30)
        & (events.event_type == "feature_used")
    )
    return e.group_by("customer_id").aggregate(distinct_features_30d=e.feature.nunique())


def cumulative_columns(e: ir.Table, new: ir.BooleanValue | None = None) -> dict[str, ir.Value]:
    """The event aggregates over every row of ``e``, or over its rows where ``new`` holds
    (a carried state's rows dated after the previous state)."""
    ts, kind = e.occurred_at, e.event_type
    lead, onboarded = kind == "lead_form", kind == "onboarding_completed"
    if new is not None:
        lead, onboarded = lead & new, onboarded & new
    return {
        "lead_forms_total": e.count(where=lead),
        "onboarded_at": ts.min(where=onboarded),
        "first_event_at": ts.min(where=new),
    }


def event_aggregates(events: ir.Table, asof: AsOf) -> ir.Table:
    """Per customer with any event on or before D: counts, the active days' mask and dates.

    Columns: ``customer_id``, ``page_views_90d``, ``lead_forms_total``,
    ``marketing_events_90d``, ``onboarded_at`` (first completion), ``logins_30d``,
    ``feature_uses_30d``, ``usage_prev_30d``, ``content_interactions_90d``,
    ``active_day_mask_30d``, ``first_event_at``; the distinct features come from
    ``distinct_counts``.
    """
    e = events.filter(events.occurred_at < asof.end)
    return e.group_by("customer_id").aggregate(**window_columns(e, asof), **cumulative_columns(e))


def feature_usage_table(events: ir.Table, asof: AsOf, window_days: int) -> ir.Table:
    """``customer_id``, ``feature``, ``uses``: ``feature_used`` events per named feature on the
    last ``window_days`` dates up to D; pairs with no use are absent."""
    e = events.filter(
        (events.occurred_at < asof.end)
        & asof.within(events.occurred_at, window_days)
        & (events.event_type == "feature_used")
        & events.feature.notnull()
    )
    return e.group_by(["customer_id", "feature"]).aggregate(uses=e.count())
