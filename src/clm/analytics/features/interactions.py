"""Interaction features (support, complaints, surveys, referrals) from the interactions table.

Counts come from one conditional aggregate. "Latest" survey scores need a second, small pass:
the latest timestamp per customer comes out of the aggregate, then the scores at exactly that
timestamp are averaged. Averaging makes ties (two answers recorded at the same instant, or a
date-only source) give one answer on every engine, where ``arg_max`` would pick any of them.
Rows without a score are ignored for the latest score. Referrals count referral records, not
distinct referred customers: a referral re-recorded later is a second referral event.
"""

from __future__ import annotations

import ibis.expr.types as ir

from clm.analytics.features.asof import AsOf

SCORED = ("satisfaction", "nps")


def window_columns(i: ir.Table, asof: AsOf) -> dict[str, ir.Value]:
    """The interaction aggregates over windows ending at D (none reaches back more than 90 days)."""
    ts, kind = i.occurred_at, i.interaction_type
    return {
        "support_contacts_30d": i.count(where=(kind == "support_contact") & asof.within(ts, 30)),
        "support_contacts_prev_30d": i.count(
            where=(kind == "support_contact") & asof.between(ts, 30, 60)
        ),
        "complaints_90d": i.count(where=(kind == "complaint") & asof.within(ts, 90)),
        "referrals_90d": i.count(where=(kind == "referral") & asof.within(ts, 90)),
    }


def cumulative_columns(i: ir.Table, new: ir.BooleanValue | None = None) -> dict[str, ir.Value]:
    """The interaction aggregates over every row of ``i``, or over its rows where ``new``
    holds (a carried state's rows dated after the previous state)."""
    ts, kind = i.occurred_at, i.interaction_type
    scored, referral = i.score.notnull(), kind == "referral"
    if new is not None:
        scored, referral = scored & new, referral & new
    return {
        "referrals_total": i.count(where=referral),
        "satisfaction_at": ts.max(where=(kind == "satisfaction") & scored),
        "nps_at": ts.max(where=(kind == "nps") & scored),
        "first_interaction_at": ts.min(where=new),
    }


def interaction_aggregates(interactions: ir.Table, asof: AsOf) -> ir.Table:
    """Per customer with any interaction on or before D: counts and the latest survey times.

    Columns: ``customer_id``, ``support_contacts_30d``, ``support_contacts_prev_30d``,
    ``complaints_90d``, ``referrals_total``, ``referrals_90d``, ``satisfaction_at``,
    ``nps_at``, ``first_interaction_at``.
    """
    i = interactions.filter(interactions.occurred_at < asof.end)
    return i.group_by("customer_id").aggregate(**window_columns(i, asof), **cumulative_columns(i))


def latest_scores(interactions: ir.Table, aggregates: ir.Table, asof: AsOf) -> ir.Table:
    """``customer_id``, ``satisfaction_latest``, ``nps_latest``: mean score at the latest
    scored timestamp of each kind (on or before D)."""
    i = interactions.filter(
        (interactions.occurred_at < asof.end)
        & interactions.interaction_type.isin(SCORED)
        & interactions.score.notnull()
    )
    latest = aggregates.filter(
        aggregates.satisfaction_at.notnull() | aggregates.nps_at.notnull()
    ).select("customer_id", "satisfaction_at", "nps_at")
    j = i.join(latest, i.customer_id == latest.customer_id)
    j = j.select(
        "customer_id",
        "score",
        is_sat=(j.interaction_type == "satisfaction") & (j.occurred_at == j.satisfaction_at),
        is_nps=(j.interaction_type == "nps") & (j.occurred_at == j.nps_at),
    )
    j = j.filter(j.is_sat | j.is_nps)
    return j.group_by("customer_id").aggregate(
        satisfaction_latest=j.score.mean(where=j.is_sat),
        nps_latest=j.score.mean(where=j.is_nps),
    )
