"""Point-in-time inputs shared by the value metrics: paid orders up to D, months as integers.

Every value metric starts from the same two facts, so they live here once:

* an order contributes as of date D only if it is paid and was placed on or before D
  (``ordered_at < D + 1 day``: an order at D 23:00 counts, one at D+1 00:00 does not);
* calendar months are handled as an integer index ``year * 12 + month - 1`` so that month
  arithmetic (cohort periods, "the previous month") is plain integer arithmetic that every
  engine runs the same way; they are shown as ``YYYY-MM`` strings built from that index.

Inputs are checked when an expression is built (the ibis habit), and a missing column names
the table and the column, never a traceback from the engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import ibis
import ibis.expr.types as ir

from clm.errors import DataFileError, InputError

UNKNOWN_CHANNEL = "unknown"


def check_as_of(as_of: object, *, name: str = "as_of") -> dt.date:
    """Return ``as_of`` as a date, refusing datetimes (D is a whole day) and other types."""
    if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        raise InputError(
            f"{name} must be a date (YYYY-MM-DD), got {type(as_of).__name__} {as_of!r}",
            field=name,
        )
    return as_of


def require_columns(table: ir.Table, *, table_name: str, columns: Iterable[str]) -> None:
    """Raise ``DataFileError`` naming the first column ``table`` lacks."""
    have = set(table.columns)
    for column in columns:
        if column not in have:
            raise DataFileError(
                f"table {table_name!r} has no column {column!r} "
                f"(it has: {', '.join(table.columns)})",
                table=table_name,
                field=column,
            )


def end_of_day(as_of: dt.date) -> ir.TimestampScalar:
    """The first instant after D, as a timestamp literal: ``x < end_of_day(D)`` means on or
    before D."""
    return ibis.timestamp(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()))


def paid_orders(orders: ir.Table, *, as_of: dt.date) -> ir.Table:
    """Paid orders placed on or before ``as_of``: the only orders any value metric counts."""
    as_of = check_as_of(as_of)
    require_columns(orders, table_name="orders",
                    columns=("customer_id", "ordered_at", "amount", "status"))
    return orders.filter(orders.status == "paid", orders.ordered_at < end_of_day(as_of))


def month_index_of(value: ir.TimestampValue | ir.DateValue) -> ir.IntegerValue:
    """``year * 12 + month - 1`` of a date or timestamp column."""
    return value.year() * 12 + value.month() - 1


def month_index(day: dt.date) -> int:
    """The month index of a Python date (same numbering as ``month_index_of``)."""
    return day.year * 12 + day.month - 1


def month_label(index: ir.IntegerValue) -> ir.StringValue:
    """``YYYY-MM`` of a month index column, built with integer and string operations only."""
    year = (index // 12).cast("string")
    month = (index % 12 + 1).cast("string").lpad(2, "0")
    return year + "-" + month


def last_complete_month(as_of: dt.date) -> int:
    """Index of the last calendar month that has ended on or before D (D's month if D is its
    last day)."""
    this = month_index(as_of)
    return this if (as_of + dt.timedelta(days=1)).day == 1 else this - 1


def first_orders(orders: ir.Table, *, as_of: dt.date) -> ir.Table:
    """Per customer with a paid order by D: the first order's timestamp and month index."""
    paid = paid_orders(orders, as_of=as_of)
    first = paid.group_by("customer_id").aggregate(first_ordered_at=paid.ordered_at.min())
    return first.mutate(cohort_index=month_index_of(first.first_ordered_at))


def ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    """``numerator / denominator`` as a float, empty when the denominator is 0.

    Both sides are cast to float first: Ibis 12 compiles integer / integer on PostgreSQL as
    plain ``/``, which PostgreSQL evaluates as integer division (8 / 27 = 0), while DuckDB
    gives 0.296.
    """
    return numerator.cast("float64") / denominator.cast("float64").nullif(0.0)
