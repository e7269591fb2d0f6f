"""ABC value tiers by cumulative share of spend, and the ARPU percentile.

ABC analysis (the Pareto principle applied to customers; Juran's "vital few") ranks buying
customers by total paid spend as of D, highest first, and cuts the running share of spend:

* tier A: the smallest set of top customers who together reach ``a_share`` (default 80 %) of
  all spend, i.e. every customer whose *preceding* cumulative share is below ``a_share``;
* tier B: the next customers until ``b_share`` (95 %) is reached, by the same rule;
* tier C: the rest.

The customer whose spend crosses a line belongs to the higher tier, so a single customer with
90 % of spend is tier A rather than nobody being A. Ties in spend are ordered by customer_id,
so the cut is the same on every engine.

ARPU (average revenue per user) follows the feature catalog: ``arpu_monthly`` is paid spend in
the last ``window_days`` days (D included) divided by ``window_days / 30`` months, rounded to
cents, and ``arpu_percentile`` is SQL ``PERCENT_RANK()``, ``rank / (n - 1)`` with ``rank`` the
0-based minimum rank of ``arpu_monthly`` in ascending order among the ``n`` customers with a
paid order on or before D (1 for the highest, 0 for a single customer). With it
``arpu_percentile >= 0.8`` selects the top 20 %, the default "mature" criterion. This is the
definition ``clm.analytics.features`` uses for the catalog feature of the same name.

Money is ranked rounded to cents: float sums of the same amounts can differ in the last bit
between engines (summation order), which would split a tie differently on each.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from clm.analytics.value.inputs import check_as_of, end_of_day, paid_orders, ratio
from clm.errors import InputError

TIERS: tuple[str, ...] = ("A", "B", "C")


def value_tiers(orders: ir.Table, *, as_of: dt.date, a_share: float = 0.8,
                b_share: float = 0.95) -> ir.Table:
    """ABC tier of every customer with a paid order on or before D.

    Returns
    -------
    ibis.Table
        customer_id, total_spend, spend_rank (1 = highest), cumulative_share (share of all
        spend held by this customer and those ranked above), value_tier (A/B/C).
    """
    as_of = check_as_of(as_of)
    if not 0 < a_share <= b_share <= 1:
        raise InputError(f"tier shares must satisfy 0 < a_share <= b_share <= 1, got "
                         f"a_share={a_share}, b_share={b_share}", field="a_share")
    paid = paid_orders(orders, as_of=as_of)
    per = paid.group_by("customer_id").aggregate(total_spend=paid.amount.sum())
    order = [ibis.desc(per.total_spend.round(2)), ibis.asc(per.customer_id)]
    running = ibis.window(order_by=order, preceding=None, following=0)
    total = per.total_spend.sum().over(ibis.window())
    cum = per.total_spend.sum().over(running)
    ranked = per.mutate(
        spend_rank=ibis.row_number().over(order_by=order) + 1,
        cumulative_share=ratio(cum, total),
        _before=ratio(cum - per.total_spend, total),
    )
    before = ranked._before.fill_null(0.0)
    tier = ibis.cases((before < a_share, "A"), (before < b_share, "B"), else_="C")
    return ranked.mutate(value_tier=tier).select(
        "customer_id", "total_spend", "spend_rank", "cumulative_share", "value_tier"
    )


def arpu(orders: ir.Table, *, as_of: dt.date, window_days: int = 90) -> ir.Table:
    """Monthly ARPU over the last ``window_days`` and its percentile among buyers.

    Returns
    -------
    ibis.Table
        customer_id, arpu_monthly, arpu_percentile for every customer with a paid order on or
        before D (0 ARPU when none fell in the window).
    """
    as_of = check_as_of(as_of)
    if not isinstance(window_days, int) or window_days < 1:
        raise InputError(f"window_days must be a positive integer, got {window_days!r}",
                         field="window_days")
    paid = paid_orders(orders, as_of=as_of)
    start = end_of_day(as_of - dt.timedelta(days=window_days))
    in_window = paid.ordered_at >= start
    per = paid.group_by("customer_id").aggregate(
        spend=paid.amount.sum(where=in_window),
    )
    months = window_days / 30
    per = per.mutate(arpu_monthly=(per.spend.fill_null(0.0).cast("float64") / months).round(2))
    pct = ibis.percent_rank().over(order_by=per.arpu_monthly)
    return per.mutate(arpu_percentile=pct.cast("float64")).select("customer_id", "arpu_monthly",
                                                  "arpu_percentile")
