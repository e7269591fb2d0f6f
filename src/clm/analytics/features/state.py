"""Cumulative per-customer aggregates as of a date, carried forward from one date to the next.

A backfill evaluates a series of dates D1 < D2 < ... Most features look back at most 90 days;
the others are cumulative (order count and spend since the beginning, first and last order,
the month mask of the active-months streak, first order amount, lead forms, onboarding,
referrals, latest survey scores, first sign of life). Recomputing those at every date rescans
the whole history each time: at 1M customers and 40M rows that was one full scan per date.

The state as of D_k is the state as of D_(k-1) combined with the rows dated in
(D_(k-1), D_k]: counts and sums add, first dates take the least, last dates the greatest, the
month mask shifts by the months between the two dates, and a first order amount or a latest
score is the new one only when the new rows hold the first order or a later answer. So a
backfill step reads the rows of its own interval plus the last 90 days, not the whole history.
``compute_features(..., state=...)`` then adds the windowed aggregates and derives the same
features as a computation from scratch; ``tests/analytics/test_feature_state.py`` checks they
are equal date by date.

The state's tables are Ibis expressions; the caller materialises them (``.cache()``) before
carrying them to the next date, or the expression would grow with every step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from clm.analytics.features import behaviour, interactions, transactions
from clm.analytics.features.asof import AsOf, check_as_of
from clm.errors import InputError

ORDER_COLUMNS = (
    "order_count", "spend_total", "first_paid_at", "last_paid_at", "first_order_at",
    "month_mask", "first_order_amount",
)
EVENT_COLUMNS = ("lead_forms_total", "onboarded_at", "first_event_at")
INTERACTION_COLUMNS = (
    "referrals_total", "satisfaction_at", "nps_at", "first_interaction_at",
    "satisfaction_latest", "nps_latest",
)


@dataclass(frozen=True)
class FeatureState:
    """The cumulative aggregates of each source as of ``as_of``, one row per customer with any
    row of that source on or before ``as_of`` (``customer_id`` plus the ``*_COLUMNS``)."""

    as_of: dt.date
    orders: ir.Table
    events: ir.Table
    interactions: ir.Table

    def cache(self) -> FeatureState:
        """The same state with each table materialised in the backend."""
        return FeatureState(
            self.as_of, self.orders.cache(), self.events.cache(), self.interactions.cache()
        )

    def release(self) -> None:
        """Drop the materialised tables of a state from ``cache()``."""
        for table in (self.orders, self.events, self.interactions):
            table.release()


def _rows(table: ir.Table, ts: str, asof: AsOf, after: AsOf | None) -> ir.Table:
    """The rows dated on or before D, and after the previous state's date when there is one."""
    keep = table[ts] < asof.end
    if after is not None:
        keep = keep & (table[ts] >= after.end)
    return table.filter(keep)


def _orders(orders: ir.Table, asof: AsOf, after: AsOf | None) -> ir.Table:
    o = _rows(orders, "ordered_at", asof, after)
    agg = o.group_by("customer_id").aggregate(**transactions.cumulative_columns(o, asof))
    firsts = transactions.first_order_amounts(o, agg, asof).rename(_fa_id="customer_id")
    joined = agg.left_join(firsts, agg.customer_id == firsts._fa_id)
    return joined.select("customer_id", *ORDER_COLUMNS)


def _events(events: ir.Table, asof: AsOf, after: AsOf | None) -> ir.Table:
    e = _rows(events, "occurred_at", asof, after)
    agg = e.group_by("customer_id").aggregate(**behaviour.cumulative_columns(e))
    return agg.select("customer_id", *EVENT_COLUMNS)


def _interactions(table: ir.Table, asof: AsOf, after: AsOf | None) -> ir.Table:
    i = _rows(table, "occurred_at", asof, after)
    agg = i.group_by("customer_id").aggregate(**interactions.cumulative_columns(i))
    scores = interactions.latest_scores(i, agg, asof).rename(_ls_id="customer_id")
    joined = agg.left_join(scores, agg.customer_id == scores._ls_id)
    return joined.select("customer_id", *INTERACTION_COLUMNS)


def _outer(old: ir.Table, new: ir.Table) -> ir.Table:
    """Every customer of either table, old columns prefixed ``o_``, new ones ``n_``."""
    old = old.rename({f"o_{c}": c for c in old.columns})
    new = new.rename({f"n_{c}": c for c in new.columns})
    joined = old.outer_join(new, old.o_customer_id == new.n_customer_id)
    return joined.mutate(customer_id=ibis.coalesce(joined.o_customer_id, joined.n_customer_id))


def _add(j: ir.Table, name: str) -> ir.Value:
    return j[f"o_{name}"].fill_null(0) + j[f"n_{name}"].fill_null(0)


def _least(j: ir.Table, name: str) -> ir.Value:
    return ibis.least(j[f"o_{name}"], j[f"n_{name}"])


def _greatest(j: ir.Table, name: str) -> ir.Value:
    return ibis.greatest(j[f"o_{name}"], j[f"n_{name}"])


def _combine_orders(old: ir.Table, new: ir.Table, months: int) -> ir.Table:
    """``months``: calendar months from the old state's date to the new one's."""
    j = _outer(old, new)
    mask = transactions.MASK_MONTHS
    if months >= mask:
        carried = ibis.literal(0, type="int64")
    else:
        keep = (1 << (mask - months)) - 1  # the bits that stay inside the mask once shifted
        shift = ibis.literal(months, type="int32")
        carried = (j.o_month_mask.fill_null(0) & keep) << shift
    return j.select(
        "customer_id",
        order_count=_add(j, "order_count"),
        spend_total=_add(j, "spend_total"),
        first_paid_at=_least(j, "first_paid_at"),
        last_paid_at=_greatest(j, "last_paid_at"),
        first_order_at=_least(j, "first_order_at"),
        month_mask=(carried | j.n_month_mask.fill_null(0)).cast("int64"),
        # a new first order exists only for a customer who had none before
        first_order_amount=ibis.coalesce(j.o_first_order_amount, j.n_first_order_amount),
    )


def _combine_events(old: ir.Table, new: ir.Table) -> ir.Table:
    j = _outer(old, new)
    return j.select(
        "customer_id",
        lead_forms_total=_add(j, "lead_forms_total"),
        onboarded_at=_least(j, "onboarded_at"),
        first_event_at=_least(j, "first_event_at"),
    )


def _combine_interactions(old: ir.Table, new: ir.Table) -> ir.Table:
    j = _outer(old, new)
    # every new row is later than every old one: a new answer replaces the old latest
    sat_new, nps_new = j.n_satisfaction_at.notnull(), j.n_nps_at.notnull()
    return j.select(
        "customer_id",
        referrals_total=_add(j, "referrals_total"),
        satisfaction_at=_greatest(j, "satisfaction_at"),
        nps_at=_greatest(j, "nps_at"),
        first_interaction_at=_least(j, "first_interaction_at"),
        satisfaction_latest=sat_new.ifelse(j.n_satisfaction_latest, j.o_satisfaction_latest),
        nps_latest=nps_new.ifelse(j.n_nps_latest, j.o_nps_latest),
    )


def cumulative_state(
    tables: Mapping[str, ir.Table], *, as_of: dt.date, previous: FeatureState | None = None
) -> FeatureState:
    """The cumulative aggregates as of ``as_of``: from scratch, or from ``previous`` plus the
    rows dated after it.

    Raises
    ------
    InputError
        If ``previous`` is not dated before ``as_of``.
    """
    asof = check_as_of(as_of)
    orders, events = tables["orders"], tables["events"]
    inter = tables["interactions"]
    if previous is None:
        return FeatureState(
            as_of,
            _orders(orders, asof, None),
            _events(events, asof, None),
            _interactions(inter, asof, None),
        )
    if previous.as_of >= as_of:
        raise InputError(
            f"a feature state as of {previous.as_of} cannot be carried back to {as_of}",
            field="as_of",
        )
    before = check_as_of(previous.as_of)
    months = asof.month_index - before.month_index
    return FeatureState(
        as_of,
        _combine_orders(previous.orders, _orders(orders, asof, before), months),
        _combine_events(previous.events, _events(events, asof, before)),
        _combine_interactions(previous.interactions, _interactions(inter, asof, before)),
    )
