"""Customer acquisition cost per channel and month, and CLV:CAC per channel and cohort.

CAC (获客成本) = marketing spend of a channel in a month / customers that channel acquired in
that month. A customer is *acquired* in the calendar month of their first paid order on or
before D (the month they became a paying customer, "new" in the default stage model), through
the ``acquisition_channel`` of the customers table (``unknown`` when empty). The signup month
is not used: ``signup_date`` is optional, and a signup without a purchase is a lead, not an
acquired customer.

The optional ``marketing_spend`` input has one row per channel and month: ``channel``,
``month`` (``YYYY-MM`` text, or a date/timestamp whose month is taken) and ``amount``; rows for
the same channel and month add up. Spend in months after D's month is ignored.

A channel-month with spend but no new customers has an empty CAC (spend was not recovered by
any acquisition); one with new customers but no spend row also has an empty CAC and spend, not
zero: a missing row is unknown spend. Record zero spend explicitly (``organic, 2024-01, 0``)
to get CAC 0.

CLV:CAC compares the average CLV of the customers a channel acquired with what acquiring them
cost (the usual health threshold is 3:1). CLV comes from any per-customer table with
``customer_id`` and ``clv`` (the probabilistic models in ``clm.analytics.clv`` produce one).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import ibis
import ibis.expr.types as ir

from clm.analytics.value.inputs import (
    UNKNOWN_CHANNEL,
    check_as_of,
    first_orders,
    month_label,
    ratio,
    require_columns,
)
from clm.errors import InputError

SPEND_COLUMNS = ("channel", "month", "amount")


def acquisitions(orders: ir.Table, customers: ir.Table, *, as_of: dt.date) -> ir.Table:
    """customer_id, channel, month (YYYY-MM of the first paid order) of every acquired customer."""
    as_of = check_as_of(as_of)
    require_columns(customers, table_name="customers",
                    columns=("customer_id", "acquisition_channel"))
    first = first_orders(orders, as_of=as_of)
    chan = customers.select("customer_id", "acquisition_channel")
    joined = first.left_join(chan, "customer_id")
    channel = joined.acquisition_channel.strip().nullif("").fill_null(UNKNOWN_CHANNEL)
    return joined.select(customer_id=joined.customer_id, channel=channel,
                         month=month_label(joined.cohort_index))


def monthly_spend(marketing_spend: ir.Table, *, as_of: dt.date) -> ir.Table:
    """channel, month, spend: the spend input summed per channel and month up to D's month."""
    as_of = check_as_of(as_of)
    require_columns(marketing_spend, table_name="marketing_spend", columns=SPEND_COLUMNS)
    month = marketing_spend.month
    if month.type().is_temporal():
        month = month.strftime("%Y-%m")
    elif not month.type().is_string():
        raise InputError(f"marketing_spend column 'month' must be YYYY-MM text or a date, got "
                         f"{month.type()}", table="marketing_spend", field="month")
    spend = marketing_spend.select(
        channel=marketing_spend.channel.strip().nullif("").fill_null(UNKNOWN_CHANNEL),
        month=month.strip(),
        amount=marketing_spend.amount.cast("float64"),
    )
    this_month = f"{as_of.year:04d}-{as_of.month:02d}"
    spend = spend.filter(spend.month <= this_month)
    return spend.group_by(["channel", "month"]).aggregate(spend=spend.amount.sum())


def cac(orders: ir.Table, customers: ir.Table, marketing_spend: ir.Table, *,
        as_of: dt.date) -> ir.Table:
    """CAC per acquisition channel and month.

    Returns
    -------
    ibis.Table
        channel, month (YYYY-MM), spend, new_customers, cac; one row per channel and month with
        spend or new customers, up to D's month.
    """
    spend = monthly_spend(marketing_spend, as_of=as_of)
    acq = acquisitions(orders, customers, as_of=as_of)
    new = acq.group_by(["channel", "month"]).aggregate(new_customers=acq.count())
    joined = spend.outer_join(new, [spend.channel == new.channel, spend.month == new.month])
    out = joined.select(
        channel=ibis.coalesce(spend.channel, new.channel),
        month=ibis.coalesce(spend.month, new.month),
        spend=spend.spend,
        new_customers=new.new_customers.fill_null(0),
    )
    out = out.mutate(cac=ratio(out.spend, out.new_customers))
    return out.order_by(["channel", "month"])


def clv_to_cac(clv: ir.Table, *, orders: ir.Table, customers: ir.Table,
               marketing_spend: ir.Table, as_of: dt.date,
               by: Literal["channel", "cohort"] = "cohort") -> ir.Table:
    """Average CLV of acquired customers against CAC, per channel (and cohort month).

    Parameters
    ----------
    clv
        Per-customer CLV: ``customer_id`` and ``clv``. Customers missing from it are counted
        as acquired but left out of the CLV average.
    by
        ``"cohort"``: one row per channel and acquisition month; ``"channel"``: one per channel,
        with CAC = all spend up to D / all customers acquired up to D.

    Returns
    -------
    ibis.Table
        channel, [cohort_month,] new_customers, customers_with_clv, avg_clv, spend, cac,
        clv_to_cac (avg_clv / cac).
    """
    if by not in ("channel", "cohort"):
        raise InputError(f"by must be 'channel' or 'cohort', got {by!r}", field="by")
    require_columns(clv, table_name="clv", columns=("customer_id", "clv"))
    acq = acquisitions(orders, customers, as_of=as_of)
    values = clv.select(customer_id=clv.customer_id, clv=clv.clv.cast("float64"))
    per = acq.left_join(values, "customer_id")
    spend = monthly_spend(marketing_spend, as_of=as_of)
    keys = ["channel", "month"] if by == "cohort" else ["channel"]
    value = per.group_by(keys).aggregate(
        new_customers=per.count(),
        customers_with_clv=per.clv.count(),
        avg_clv=per.clv.mean(),
    )
    cost = spend.group_by(keys).aggregate(spend=spend.spend.sum())
    joined = value.left_join(cost, keys)
    out = joined.select(
        *keys, "new_customers", "customers_with_clv", "avg_clv", "spend",
        cac=ratio(joined.spend, joined.new_customers),
    )
    out = out.mutate(clv_to_cac=ratio(out.avg_clv, out.cac))
    if by == "cohort":
        out = out.rename(cohort_month="month")
        return out.order_by(["channel", "cohort_month"])
    return out.order_by("channel")

