"""Monthly acquisition cohorts: customer and revenue retention, repeat purchases, churn.

A customer's cohort is the calendar month of their first paid order on or before D (the month
they became a customer, "new" in the default stage model). Period ``p`` of a cohort is the
calendar month ``p`` months after the cohort month (period 0 is the cohort month itself).
These are the classic cohort tables of retention analysis (Fader & Hardie 2007, "How to
project customer retention", *J. Interactive Marketing* 21(1), use the same layout):

* retention(c, p) = customers of cohort c with a paid order in period p / cohort size;
* revenue_retention(c, p) = paid revenue of cohort c in period p / its revenue in period 0.

Every cohort has one row per period from 0 up to D's month, zeros included, so a matrix can be
read off directly. The month containing D is partial unless D is its last day: ``complete``
says whether the calendar month has ended on or before D.

Churn per period is measured on purchase activity: of the customers active (a paid order) in
month t-1, the share with no paid order in month t. The stage-based alternative (moves into
``churned``) is in ``stage_history``.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from clm.analytics.value.inputs import (
    check_as_of,
    first_orders,
    last_complete_month,
    month_index,
    month_index_of,
    month_label,
    paid_orders,
    ratio,
)
from clm.errors import InputError


def _monthly_activity(orders: ir.Table, *, as_of: dt.date) -> ir.Table:
    """customer_id, month_index, revenue: one row per customer and month with a paid order."""
    paid = paid_orders(orders, as_of=as_of)
    paid = paid.mutate(month_index=month_index_of(paid.ordered_at))
    return paid.group_by(["customer_id", "month_index"]).aggregate(revenue=paid.amount.sum())


def cohort_retention(orders: ir.Table, *, as_of: dt.date) -> ir.Table:
    """Customer and revenue retention of monthly acquisition cohorts, long form.

    Returns
    -------
    ibis.Table
        cohort_month (YYYY-MM), period (months since the cohort month), month (YYYY-MM of that
        period), cohort_size, customers_active, retention, revenue, revenue_retention,
        complete; one row per cohort and period 0 .. D's month.
    """
    as_of = check_as_of(as_of)
    first = first_orders(orders, as_of=as_of)
    activity = _monthly_activity(orders, as_of=as_of)
    joined = activity.join(first, "customer_id")
    joined = joined.mutate(period=joined.month_index - joined.cohort_index)
    cells = joined.group_by(["cohort_index", "period"]).aggregate(
        customers_active=joined.customer_id.nunique(),
        revenue=joined.revenue.sum(),
    )
    cohorts = first.group_by("cohort_index").aggregate(cohort_size=first.count())
    last = month_index(as_of)
    grid = cohorts.mutate(period=ibis.range(0, last - cohorts.cohort_index + 1, 1).unnest())
    out = grid.left_join(cells, ["cohort_index", "period"]).select(
        grid.cohort_index, grid.period, grid.cohort_size,
        customers_active=cells.customers_active.fill_null(0),
        revenue=cells.revenue.fill_null(0.0),
    )
    base = out.revenue.max(where=out.period == 0).over(group_by=out.cohort_index)
    idx = out.cohort_index + out.period
    return out.mutate(
        cohort_month=month_label(out.cohort_index),
        month=month_label(idx),
        retention=ratio(out.customers_active, out.cohort_size),
        revenue_retention=ratio(out.revenue, base),
        complete=idx <= last_complete_month(as_of),
    ).select("cohort_month", "period", "month", "cohort_size", "customers_active",
             "retention", "revenue", "revenue_retention", "complete").order_by(
        ["cohort_month", "period"])


def retention_matrix(long: pd.DataFrame | ir.Table, *, value: str = "retention") -> pd.DataFrame:
    """Pivot ``cohort_retention`` output to a cohort x period matrix for display.

    Rows are cohort months (oldest first), columns periods 0, 1, ...; cells after D are empty.
    ``value`` is any numeric column of the long form (retention, revenue_retention,
    customers_active, revenue).
    """
    frame = long.execute() if isinstance(long, ir.Table) else long
    allowed = ("retention", "revenue_retention", "customers_active", "revenue")
    if value not in allowed:
        raise InputError(f"value must be one of {', '.join(allowed)}, got {value!r}",
                         field="value")
    matrix = frame.pivot(index="cohort_month", columns="period", values=value)
    matrix = matrix.sort_index().reindex(columns=sorted(matrix.columns))
    matrix.columns.name = "period"
    return matrix


def repeat_purchase_rate(orders: ir.Table, *, as_of: dt.date, by_cohort: bool = False
                         ) -> ir.Table:
    """Share of buyers with two or more paid orders on or before D.

    Returns
    -------
    ibis.Table
        [cohort_month,] customers, repeat_customers, repeat_purchase_rate; one row overall or
        one per cohort month when ``by_cohort``.
    """
    as_of = check_as_of(as_of)
    paid = paid_orders(orders, as_of=as_of)
    per = paid.group_by("customer_id").aggregate(
        orders=paid.count(), first_ordered_at=paid.ordered_at.min()
    )
    keys = []
    if by_cohort:
        per = per.mutate(cohort_month=month_label(month_index_of(per.first_ordered_at)))
        keys = ["cohort_month"]
    agg = per.group_by(keys) if keys else per
    out = agg.aggregate(
        customers=per.count(),
        repeat_customers=(per.orders >= 2).sum().cast("int64"),
    )
    out = out.mutate(repeat_purchase_rate=ratio(out.repeat_customers, out.customers))
    return out.order_by(keys) if keys else out


def churn_rate_per_period(orders: ir.Table, *, as_of: dt.date) -> ir.Table:
    """Monthly churn on purchase activity: active in month t-1, no paid order in month t.

    Returns
    -------
    ibis.Table
        month (YYYY-MM, t), active_previous (customers with a paid order in t-1), retained
        (of those, with a paid order in t), churned, churn_rate (churned / active_previous),
        complete (month t ended on or before D); months t from the second month with orders
        up to D's month.
    """
    as_of = check_as_of(as_of)
    active = _monthly_activity(orders, as_of=as_of).select("customer_id", "month_index")
    nxt = active.select(customer_id=active.customer_id, next_index=active.month_index,
                        seen=ibis.literal(1))
    prev = active.mutate(next_index=active.month_index + 1).filter(
        lambda x: x.next_index <= month_index(as_of))
    pairs = prev.left_join(nxt, ["customer_id", "next_index"])
    pairs = pairs.mutate(retained=pairs.seen.notnull())
    out = pairs.group_by(pairs.next_index).aggregate(
        active_previous=pairs.count(),
        retained=pairs.retained.sum().cast("int64"),
    )
    out = out.mutate(churned=out.active_previous - out.retained)
    return out.mutate(
        month=month_label(out.next_index),
        churn_rate=ratio(out.churned, out.active_previous),
        complete=out.next_index <= last_complete_month(as_of),
    ).order_by("next_index").select("month", "active_previous", "retained", "churned",
                                    "churn_rate", "complete")
