"""The as-of date D as Ibis literals, and the checks every feature function starts with.

Point in time means two things here. First, every source table is filtered to rows dated
before the first instant after D (``ts < D+1 00:00``), so an event at D 23:59 counts and one at
D+1 00:00 does not; nothing dated later can reach any feature. Second, windows are half-open
intervals of whole dates ending at D: "30d" is the dates (D-30, D], so its timestamps are
``[D-29 00:00, D+1 00:00)``. Expressing bounds as timestamp literals (not ``date(ts)``
comparisons) keeps the filters sargable on every backend and identical on all of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from clm.errors import InputError

WINDOW_DAYS = 90  # the longest window any feature reads (``within(ts, 90)``)

# The columns each source table must have for the features (a subset of the data contract).
NEEDED: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id", "signup_date", "unsubscribed_on", "account_closed_on"),
    "orders": ("customer_id", "ordered_at", "amount", "status"),
    "events": ("customer_id", "occurred_at", "event_type", "feature"),
    "interactions": ("customer_id", "occurred_at", "interaction_type", "score"),
}


@dataclass(frozen=True)
class AsOf:
    """Literal bounds derived from the as-of date ``day`` (D)."""

    day: dt.date

    @property
    def date(self) -> ir.DateScalar:
        return ibis.literal(self.day, type="date")

    @property
    def end(self) -> ir.TimestampScalar:
        """The first instant after D: rows are kept when ``ts < end``."""
        return self.start_of(0)

    def start_of(self, days: int) -> ir.TimestampScalar:
        """First instant of the window of the last ``days`` dates (0 gives ``end``).

        ``ts >= start_of(30)`` selects dates in (D-30, D] once rows are cut at ``end``.
        """
        first = self.day - dt.timedelta(days=days - 1)
        return ibis.literal(dt.datetime.combine(first, dt.time()), type="timestamp")

    def within(self, ts: ir.TimestampValue, days: int) -> ir.BooleanValue:
        """``ts`` falls on one of the last ``days`` dates (rows already cut at ``end``)."""
        return ts >= self.start_of(days)

    def between(self, ts: ir.TimestampValue, newer: int, older: int) -> ir.BooleanValue:
        """``ts`` falls on dates in (D-older, D-newer]: "prev 30d" is ``between(ts, 30, 60)``."""
        return (ts >= self.start_of(older)) & (ts < self.start_of(newer))

    def days_since(self, value: ir.Value) -> ir.IntegerValue:
        """Whole days from the date of ``value`` (date or timestamp) to D; null stays null."""
        day = value.date() if value.type().is_timestamp() else value
        return self.date.delta(day, unit="day").cast("int64")

    @property
    def month_index(self) -> int:
        """D's calendar month as ``year * 12 + month - 1``, the same scale as ``month_of``."""
        return self.day.year * 12 + self.day.month - 1


def month_of(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Calendar month of ``ts`` as ``year * 12 + month - 1`` (consecutive months differ by 1)."""
    return (ts.year().cast("int64") * 12 + ts.month().cast("int64") - 1).cast("int64")


def check_as_of(as_of: object) -> AsOf:
    """An ``AsOf`` for a plain date; a datetime is refused rather than silently truncated."""
    if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        raise InputError(
            f"as_of must be a date (YYYY-MM-DD), not {type(as_of).__name__} {as_of!r}",
            field="as_of",
        )
    return AsOf(as_of)


def check_tables(tables: Mapping[str, ir.Table], names: tuple[str, ...]) -> None:
    """Fail with the table and column at fault when an input lacks what the features read."""
    for name in names:
        if name not in tables:
            raise InputError(f"the {name!r} table is missing from the warehouse tables",
                             table=name)
        present = set(tables[name].columns)
        for column in NEEDED[name]:
            if column not in present:
                raise InputError(
                    f"the {name!r} table has no column {column!r}, which features need",
                    table=name, field=column,
                )
