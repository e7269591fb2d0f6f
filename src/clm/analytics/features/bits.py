"""Sets of small whole numbers kept as the bits of a BIGINT, built inside a grouped aggregate.

Two features are "how many distinct X": the months of the active-months streak and the days
of the last 30 with any event. A ``COUNT(DISTINCT ...)`` needs its own hash table per group
and made DuckDB's aggregate much slower; OR-ing one bit per row (``bit_or``) costs no more
than a ``SUM`` in the aggregate that already reads those rows, and the set is read back
afterwards (the streak as a run of bits, the days as a bit count). Measured at 1M customers
on the 1.65M events of 30 days: a separate ``COUNT(DISTINCT date)`` query took about 0.7 s,
the bit set inside the state's event aggregate added 0.12 s.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as idt
import ibis.expr.types as ir


@ibis.udf.agg.builtin(name="bit_or")
def bit_or(value: idt.int64) -> idt.int64:
    """SQL ``bit_or``, which DuckDB, PostgreSQL and Spark all have but Ibis 12 compiles for
    the first two only (its PySpark compiler has no rule for ``BitOr``)."""


def bit(position: ir.IntegerValue, size: int) -> tuple[ir.IntegerValue, ir.BooleanValue]:
    """``1 << position`` and whether ``0 <= position < size``.

    The shift is kept in range on rows outside it too (the aggregate's filter drops them, but
    DuckDB evaluates the shift first and raises), and is an int32: PostgreSQL has no
    ``bigint << bigint``.
    """
    fits = (position >= 0) & (position < size)
    shift = fits.ifelse(position, 0).cast("int32")
    return ibis.literal(1).cast("int64") << shift, fits


def _shift_right(value: ir.IntegerValue, n: int) -> ir.IntegerValue:
    return value >> ibis.literal(n, type="int32")


def popcount32(value: ir.IntegerValue) -> ir.IntegerValue:
    """The number of 1 bits of a non-negative integer below 2**32 (null stays null).

    The classic SWAR count (pairs, nibbles, then bytes summed by one multiplication), in plain
    arithmetic every engine has; with 32 bits the product stays below 2**60, so no engine
    overflows a BIGINT.
    """
    x = value.cast("int64")
    x = x - (_shift_right(x, 1) & 0x55555555)
    x = (x & 0x33333333) + (_shift_right(x, 2) & 0x33333333)
    x = (x + _shift_right(x, 4)) & 0x0F0F0F0F
    return _shift_right(x * 0x01010101, 24) & 0xFF
