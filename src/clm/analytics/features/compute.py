"""Assemble the per-customer feature table from the per-source aggregates.

Each source table is aggregated once (``transactions``, ``behaviour``, ``interactions``),
filtered to rows on or before D first; the aggregates are left-joined to ``customers`` on
``customer_id`` and the features derived from their columns. So a customer with no activity
still gets a row: 0 for counts and sums, null for "days since", ratios, scores and
percentiles, false for flags. Ratios are rounded to 4 decimals, currency and scores to 2, in
the database and half up by one formula (``_round``), so stage reasons print cleanly and
every engine returns the same numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

import ibis
import ibis.expr.types as ir

from clm.analytics.feature_catalog import FEATURES
from clm.analytics.features import behaviour, transactions
from clm.analytics.features import interactions as interactions_module
from clm.analytics.features.asof import AsOf, check_as_of, check_tables
from clm.analytics.features.behaviour import (
    distinct_counts,
    event_aggregates,
    feature_usage_table,
)
from clm.analytics.features.interactions import interaction_aggregates, latest_scores
from clm.analytics.features.state import FeatureState
from clm.analytics.features.transactions import (
    first_order_amounts,
    older_streaks,
    order_aggregates,
    paid_orders,
    with_mask_streaks,
)
from clm.errors import InputError

WINDOW_DAYS = 90  # the longest window any feature reads (``within(ts, 90)``)

SOURCES = ("customers", "orders", "events", "interactions")
_DTYPES = {"int": "int64", "float": "float64", "bool": "boolean"}
_NULL_FLOAT = ibis.null("float64")


def _round(value: ir.NumericValue, digits: int) -> ir.FloatingValue:
    """Round half up to ``digits`` decimals, the same way on every engine.

    ``round()`` differs by engine exactly where it matters here: an average of whole cents
    often ends in half a cent (321.525), which is stored as 321.52499999999998; DuckDB rounds
    that binary value down, PostgreSQL converts to 15 significant digits first and rounds up,
    and PostgreSQL's ``round(double)`` rounds halves to even. So: scale, add one half plus a
    nudge far below any real difference (1e-7 of the last kept digit) but far above the
    float error of the sums, floor, unscale. Halves go up (towards +infinity).
    """
    scale = 10**digits
    return ((value * scale + (0.5 + 1e-7)).floor() / scale).cast("float64")


def _change(now: ir.IntegerValue, before: ir.IntegerValue) -> ir.FloatingValue:
    """``now / before - 1`` rounded to 4 decimals; null when ``before`` is 0."""
    return (before > 0).ifelse(_round(now / before - 1, 4), _NULL_FLOAT)


def _zero(value: ir.NumericValue) -> ir.NumericValue:
    return value.fill_null(0)


def _derive(j: ir.Table, asof: AsOf) -> dict[str, ir.Value]:
    """Every catalog feature as an expression over the joined aggregates ``j``."""
    orders = _zero(j.order_count)
    spend = _zero(j.spend_total)
    avg = (orders > 0).ifelse(spend / orders, _NULL_FLOAT)
    first_amount = j.first_order_amount
    orders_30d = _zero(j.orders_30d)
    first_in_30d = asof.within(j.first_paid_at, 30).fill_null(False).ifelse(1, 0)
    logins, uses = _zero(j.logins_30d), _zero(j.feature_uses_30d)
    usage, usage_prev = logins + uses, _zero(j.usage_prev_30d)
    support, support_prev = _zero(j.support_contacts_30d), _zero(j.support_contacts_prev_30d)
    signup = (j.signup_date <= asof.date).ifelse(j.signup_date, ibis.null("date"))
    first_seen = ibis.least(
        signup, j.first_order_at.date(), j.first_event_at.date(), j.first_interaction_at.date()
    )
    return {
        "order_count": orders,
        "total_spend": _round(spend, 2),
        "avg_order_value": _round(avg, 2),
        "first_order_amount": _round(first_amount, 2),
        "aov_change_vs_first": (first_amount > 0).ifelse(
            _round(avg / first_amount - 1, 4), _NULL_FLOAT
        ),
        "days_since_first_order": asof.days_since(j.first_paid_at),
        "days_since_last_order": asof.days_since(j.last_paid_at),
        "orders_30d": orders_30d,
        "orders_prev_30d": _zero(j.orders_prev_30d),
        "orders_90d": _zero(j.orders_90d),
        "spend_30d": _round(_zero(j.spend_30d), 2),
        "spend_90d": _round(_zero(j.spend_90d), 2),
        "repurchases_30d": orders_30d - first_in_30d,
        "arpu_monthly": _round(_zero(j.spend_90d) / 3, 2),
        "arpu_percentile": j.arpu_percentile,
        "active_months_streak": _zero(j.streak_fast) + _zero(j.streak_older),
        "refunds_90d": _zero(j.refunds_90d),
        "page_views_90d": _zero(j.page_views_90d),
        "lead_forms_total": _zero(j.lead_forms_total),
        "marketing_events_90d": _zero(j.marketing_events_90d),
        "onboarding_completed": j.onboarded_at.notnull(),
        "days_since_onboarding": asof.days_since(j.onboarded_at),
        "active_days_30d": _zero(j.active_days_30d),
        "logins_30d": logins,
        "distinct_features_30d": _zero(j.distinct_features_30d),
        "feature_uses_30d": uses,
        "usage_30d": usage,
        "usage_prev_30d": usage_prev,
        "usage_change_pct": _change(usage, usage_prev),
        "content_interactions_90d": _zero(j.content_interactions_90d),
        "support_contacts_30d": support,
        "support_contacts_prev_30d": support_prev,
        "support_contacts_change_pct": _change(support, support_prev),
        "complaints_90d": _zero(j.complaints_90d),
        "satisfaction_latest": _round(j.satisfaction_latest, 2),
        "nps_latest": _round(j.nps_latest, 2),
        "referrals_total": _zero(j.referrals_total),
        "referrals_90d": _zero(j.referrals_90d),
        "unsubscribed": (j.unsubscribed_on <= asof.date).fill_null(False),
        "account_closed": (j.account_closed_on <= asof.date).fill_null(False),
        "tenure_days": asof.days_since(first_seen),
    }


def _with_percentile(oa: ir.Table) -> ir.Table:
    """The order aggregates plus ``arpu_percentile``: ``percent_rank()`` of the rounded ARPU
    among customers with a paid order (null for the others).

    Ranked here, on the narrow per-customer order aggregate, rather than on the final wide
    table, where the window sort carried every feature along (measured: the window was one of
    the costlier steps there). Ranking the rounded value keeps ties tied on engines whose float
    sums differ in the last bit. The rows are customers with orders; ingest guarantees each
    one is a known customer.
    """
    buyer = oa.order_count > 0
    arpu = _round(oa.spend_90d.fill_null(0) / 3, 2)
    rank = ibis.percent_rank().over(group_by=buyer, order_by=arpu)
    return oa.mutate(arpu_percentile=buyer.ifelse(_round(rank, 4), _NULL_FLOAT))


def compute_features(
    tables: Mapping[str, ir.Table], *, as_of: dt.date, state: FeatureState | None = None
) -> ir.Table:
    """Every feature of ``feature_catalog.FEATURES`` for every customer, as of ``as_of``.

    Parameters
    ----------
    tables
        The warehouse's canonical tables ``customers``, ``orders``, ``events`` and
        ``interactions`` (``Warehouse.input_tables()``); timestamps are naive.
    as_of
        The date D. Rows dated after D (from D+1 00:00) never contribute.
    state
        The cumulative aggregates as of D (``state.cumulative_state``), materialised: then
        only the last 90 days of each source are read. The result is the same.

    Returns
    -------
    ibis.Table
        One row per row of ``customers``: ``customer_id`` then the catalog's features in
        catalog order, typed int64 / float64 / boolean. Nothing runs until it is executed.
    """
    asof = check_as_of(as_of)
    check_tables(tables, SOURCES)
    customers, orders = tables["customers"], tables["orders"]
    events, interactions = tables["events"], tables["interactions"]

    if state is None:
        oa = with_mask_streaks(_with_percentile(order_aggregates(orders, asof)))
        ia = interaction_aggregates(interactions, asof)
        parts = [
            oa,
            first_order_amounts(orders, oa, asof),
            older_streaks(orders, oa, asof),
            event_aggregates(events, asof),
            distinct_counts(events, asof),
            ia,
            latest_scores(interactions, ia, asof),
        ]
    else:
        if state.as_of != as_of:
            raise InputError(
                f"the feature state is as of {state.as_of}, not {as_of}", field="as_of"
            )
        oa = with_mask_streaks(_with_percentile(_windowed(
            state.orders, orders, "ordered_at", asof, transactions.window_columns
        )))
        parts = [
            oa,
            older_streaks(orders, oa, asof),
            _windowed(state.events, events, "occurred_at", asof, behaviour.window_columns),
            distinct_counts(events, asof),
            _windowed(state.interactions, interactions, "occurred_at", asof,
                      interactions_module.window_columns),
        ]
    j = customers.select("customer_id", "signup_date", "unsubscribed_on", "account_closed_on")
    for n, part in enumerate(parts):
        key = f"_k{n}"
        part = part.rename({key: "customer_id"})
        j = j.left_join(part, j.customer_id == part[key]).drop(key)
    derived = _derive(j, asof)
    return j.select(
        "customer_id",
        **{f.name: derived[f.name].cast(_DTYPES[f.dtype]) for f in FEATURES},
    )


def _windowed(cumulative: ir.Table, source: ir.Table, ts: str, asof: AsOf,
              columns: Callable[[ir.Table, AsOf], dict[str, ir.Value]]) -> ir.Table:
    """A state's cumulative aggregates plus the window aggregates over the last 90 days.

    The state holds every customer with a row on or before D, so its rows are the rows the
    aggregate from scratch would have; customers quiet for 90 days get null window columns,
    which the derivation reads as 0.
    """
    recent = source.filter((source[ts] < asof.end) & asof.within(source[ts], WINDOW_DAYS))
    windows = recent.group_by(_w_id=recent.customer_id).aggregate(**columns(recent, asof))
    joined = cumulative.left_join(windows, cumulative.customer_id == windows._w_id)
    return joined.drop("_w_id")


def order_dates(tables: Mapping[str, ir.Table], *, as_of: dt.date) -> ir.Table:
    """``customer_id``, ``first_order_date``, ``last_order_date`` (dates of the first and last
    paid order on or before ``as_of``; null without one), one row per customer."""
    asof = check_as_of(as_of)
    check_tables(tables, ("customers", "orders"))
    paid = paid_orders(tables["orders"], asof)
    dates = paid.group_by(_k="customer_id").aggregate(
        first_order_date=paid.ordered_at.min().date(),
        last_order_date=paid.ordered_at.max().date(),
    )
    customers = tables["customers"].select("customer_id")
    j = customers.left_join(dates, customers.customer_id == dates._k)
    return j.select("customer_id", "first_order_date", "last_order_date")


def feature_usage(tables: Mapping[str, ir.Table], *, as_of: dt.date,
                  window_days: int = 30) -> ir.Table:
    """``customer_id``, ``feature``, ``uses`` (int64): uses of each named product feature on
    the last ``window_days`` dates up to ``as_of``, for the tracking record's "usage count
    per core feature". Only pairs with at least one use appear."""
    asof = check_as_of(as_of)
    check_tables(tables, ("events",))
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise InputError(f"window_days must be a whole number of days >= 1, not {window_days!r}",
                         field="window_days")
    return feature_usage_table(tables["events"], asof, window_days)
