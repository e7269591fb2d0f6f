"""Per-customer purchase summaries for the customer-value models, computed in the engine.

The models of this package see a customer as ``(frequency, recency, T, monetary_value)``
measured at the end of a calibration period (Fader, Hardie & Lee 2005):

* purchases are counted per customer-day, as in the literature: several paid orders on one day
  are one purchase whose value is their sum;
* ``frequency`` is the number of repeat purchase days (all purchase days but the first);
* ``recency`` is the time from the first to the last purchase day, ``T`` the time from the first
  purchase day to the calibration end, both in ``day`` or ``week`` units (a week is 7 days,
  fractional, as in the published CDNOW numbers);
* ``monetary_value`` is the mean value of the repeat purchase days (the first is left out, as
  the Gamma-Gamma model expects), 0 for one-time buyers.

Everything here builds Ibis expressions over the canonical ``orders`` table (``customer_id,
ordered_at, amount, status``; only ``paid`` orders count, a missing status meaning ``paid``,
the contract's default), so they run where the data is — DuckDB, PostgreSQL, Spark. The bad
input checks run two small aggregate queries and name the offending customer (and file line,
when the rows carry their ``source_file``/``source_line``).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import ibis
import ibis.expr.types as ir

from clm.errors import InputError

TimeUnit = Literal["day", "week"]
UNIT_DAYS: dict[str, float] = {"day": 1.0, "week": 7.0}
_EPOCH = date(1970, 1, 1)


def _unit_days(time_unit: str) -> float:
    if time_unit not in UNIT_DAYS:
        raise InputError(
            f"time unit {time_unit!r} is not supported; choose day or week", field="time_unit"
        )
    return UNIT_DAYS[time_unit]


def _epoch_day(d: date) -> int:
    return (d - _EPOCH).days


def _paid_days(orders: ir.Table) -> ir.Table:
    """Paid orders with their purchase day as an integer (days since 1970-01-01)."""
    missing = [c for c in ("customer_id", "ordered_at", "amount") if c not in orders.columns]
    if missing:
        raise InputError(f"orders lack column {', '.join(missing)}", field=missing[0])
    paid = orders
    if "status" in orders.columns:
        paid = orders.filter(orders.status.isnull() | (orders.status == "paid"))
    return paid.mutate(day=paid.ordered_at.date().epoch_days().cast("int64"))


def _where(row: dict) -> str:
    if row.get("source_file") is not None and row.get("source_line") is not None:
        return f"{row['source_file']} line {row['source_line']}: "
    return ""


def check_orders(orders: ir.Table, *, as_of: date) -> None:
    """Refuse negative amounts and orders dated after ``as_of``, naming the first culprit.

    Raises
    ------
    InputError
        With the customer, the field and (when the rows carry it) the file and line.
    """
    trace = [c for c in ("source_file", "source_line") if c in orders.columns]
    cols = ["customer_id", "ordered_at", "amount", *trace]
    negative = orders.filter(orders.amount < 0)
    n_negative = int(negative.count().execute())
    if n_negative:
        row = negative.select(cols).order_by(cols[1:2]).limit(1).execute().iloc[0].to_dict()
        raise InputError(
            f"{_where(row)}customer {row['customer_id']}: amount {row['amount']:g} is negative "
            f"({n_negative} order(s) with a negative amount); refunds belong in status, not "
            "in a negative amount",
            field="amount", customer_id=str(row["customer_id"]), count=n_negative,
        )
    future = orders.filter(orders.ordered_at.date() > ibis.literal(as_of))
    n_future = int(future.count().execute())
    if n_future:
        row = future.select(cols).order_by(cols[1:2]).limit(1).execute().iloc[0].to_dict()
        raise InputError(
            f"{_where(row)}customer {row['customer_id']}: ordered_at {row['ordered_at']} is "
            f"after the as-of date {as_of.isoformat()} ({n_future} order(s) in the future)",
            field="ordered_at", customer_id=str(row["customer_id"]), count=n_future,
        )


def rfm_summary(orders: ir.Table, *, calibration_end: date, time_unit: TimeUnit = "week",
                as_of: date | None = None, validate: bool = True) -> ir.Table:
    """Per-customer ``frequency, recency, T, monetary_value`` as of ``calibration_end``.

    Orders after ``calibration_end`` are ignored (they are the holdout, if any); orders after
    ``as_of`` (default: ``calibration_end``) are an error. Customers whose first paid order is
    after ``calibration_end`` do not appear.
    """
    unit = _unit_days(time_unit)
    as_of = as_of or calibration_end
    if calibration_end > as_of:
        raise InputError(
            f"calibration end {calibration_end} is after the as-of date {as_of}",
            field="calibration_end",
        )
    if validate:
        check_orders(orders, as_of=as_of)
    days = _paid_days(orders)
    cal_day = _epoch_day(calibration_end)
    cal = days.filter(days.day <= cal_day)
    per_day = cal.group_by(["customer_id", "day"]).aggregate(amount=cal.amount.sum())
    per_customer = per_day.group_by("customer_id").aggregate(
        first_day=per_day.day.min(),
        last_day=per_day.day.max(),
        n_days=per_day.count(),
        total=per_day.amount.sum(),
        first_amount=per_day.amount.argmin(per_day.day),
    )
    p = per_customer
    repeat = p.n_days - 1
    return p.select(
        "customer_id",
        frequency=repeat.cast("int64"),
        recency=(p.last_day - p.first_day).cast("float64") / unit,
        T=(ibis.literal(cal_day) - p.first_day).cast("float64") / unit,
        monetary_value=ibis.ifelse(
            repeat > 0, (p.total - p.first_amount) / repeat.cast("float64"), 0.0
        ),
    ).order_by("customer_id")


def calibration_holdout_summary(orders: ir.Table, *, calibration_end: date, holdout_end: date,
                                time_unit: TimeUnit = "week", validate: bool = True
                                ) -> ir.Table:
    """Calibration summary plus what each customer did in ``(calibration_end, holdout_end]``.

    Columns: ``customer_id, frequency, recency, T, monetary_value`` (calibration, as in
    ``rfm_summary``), ``frequency_holdout`` (purchase days in the holdout),
    ``monetary_value_holdout`` (their mean value, 0 if none) and ``duration_holdout`` (the
    holdout length in ``time_unit``). Orders after ``holdout_end`` are an error.
    """
    if holdout_end <= calibration_end:
        raise InputError(
            f"holdout end {holdout_end} must be after the calibration end {calibration_end}",
            field="holdout_end",
        )
    unit = _unit_days(time_unit)
    cal = rfm_summary(orders, calibration_end=calibration_end, time_unit=time_unit,
                      as_of=holdout_end, validate=validate)
    days = _paid_days(orders)
    lo, hi = _epoch_day(calibration_end), _epoch_day(holdout_end)
    hold = days.filter((days.day > lo) & (days.day <= hi))
    per_day = hold.group_by(["customer_id", "day"]).aggregate(amount=hold.amount.sum())
    per_customer = per_day.group_by("customer_id").aggregate(
        frequency_holdout=per_day.count(), monetary_value_holdout=per_day.amount.mean()
    )
    joined = cal.left_join(per_customer, "customer_id")
    return joined.select(
        "customer_id", "frequency", "recency", "T", "monetary_value",
        frequency_holdout=joined.frequency_holdout.fill_null(0).cast("int64"),
        monetary_value_holdout=joined.monetary_value_holdout.fill_null(0.0),
        duration_holdout=ibis.literal((hi - lo) / unit),
    ).order_by("customer_id")
