"""Checks and compaction of the per-customer inputs of the customer-value models.

The models take one row per customer: ``frequency`` (repeat purchases, i.e. purchase days
minus one), ``recency`` (time from the first to the last purchase), ``T`` (time from the first
purchase to the end of the calibration period) and, for spend, ``monetary_value`` (mean value of
the repeat purchases). These checks refuse rows that cannot come from real purchase histories,
naming the customer and the invariant, before any optimiser sees them.

``compact`` collapses identical rows into one row with a count: on real data many customers
share the same (frequency, recency, T) — every one-time buyer of the same first-purchase day —
so the likelihood is evaluated once per distinct row (a large saving on CDNOW-like data, where
most customers never return).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from clm.errors import InputError


def _as_array(values: Any, field: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"{field} must be numbers", field=field) from None
    return arr


def _who(ids: Sequence[Any] | None, index: int) -> str:
    return f"customer {ids[index]!s}" if ids is not None else f"row {index + 1}"


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def check_rft(frequency: Any, recency: Any, T: Any, *, ids: Sequence[Any] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate (frequency, recency, T) per customer and return them as float arrays.

    Raises ``InputError`` naming the first offending customer and the violated invariant:
    finite values, ``frequency`` a non-negative whole number, ``0 <= recency <= T``,
    and ``recency == 0`` when there was no repeat purchase.
    """
    x = _as_array(frequency, "frequency")
    tx = _as_array(recency, "recency")
    t = _as_array(T, "T")
    if not (len(x) == len(tx) == len(t)):
        raise InputError(
            f"frequency, recency and T differ in length ({len(x)}, {len(tx)}, {len(t)})"
        )
    if len(x) == 0:
        raise InputError("no customers to fit: the input is empty")
    for name, arr in (("frequency", x), ("recency", tx), ("T", t)):
        bad = ~np.isfinite(arr)
        if bad.any():
            i = _first_bad(bad)
            raise InputError(f"{_who(ids, i)}: {name} is missing or not finite", field=name)
    checks = (
        ((x < 0) | (x != np.floor(x)), "frequency", "frequency must be a whole number >= 0"),
        (tx < 0, "recency", "recency must be >= 0"),
        (t < 0, "T", "T (time since the first purchase) must be >= 0"),
        (tx > t * (1 + 1e-12), "recency",
         "recency (time from first to last purchase) is greater than the customer's age T"),
        ((x == 0) & (tx != 0), "recency", "recency must be 0 when there is no repeat purchase"),
    )
    for mask, field, message in checks:
        if mask.any():
            i = _first_bad(mask)
            raise InputError(
                f"{_who(ids, i)}: {message} (frequency={x[i]:g}, recency={tx[i]:g}, T={t[i]:g})",
                field=field,
            )
    return x, np.minimum(tx, t), t


def check_monetary(frequency: Any, monetary_value: Any, *, ids: Sequence[Any] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Validate (frequency, monetary_value); spend must be finite and >= 0 for repeat buyers."""
    x = _as_array(frequency, "frequency")
    m = _as_array(monetary_value, "monetary_value")
    if len(x) != len(m):
        raise InputError(f"frequency and monetary_value differ in length ({len(x)}, {len(m)})")
    bad = ~np.isfinite(x) | (x < 0) | (x != np.floor(x))
    if bad.any():
        i = _first_bad(bad)
        raise InputError(f"{_who(ids, i)}: frequency must be a whole number >= 0",
                         field="frequency")
    bad = (x > 0) & (~np.isfinite(m) | (m < 0))
    if bad.any():
        i = _first_bad(bad)
        raise InputError(
            f"{_who(ids, i)}: monetary_value must be an amount >= 0 (got {m[i]:g}); "
            "negative spend cannot come from paid purchases",
            field="monetary_value",
        )
    return x, m


def check_horizon(t: Any) -> float:
    """A prediction horizon in model time units: a finite number >= 0."""
    try:
        value = float(t)
    except (TypeError, ValueError):
        raise InputError(
            f"the prediction horizon must be a number (got {t!r})", field="t"
        ) from None
    if not np.isfinite(value) or value < 0:
        raise InputError(f"the prediction horizon must be a number >= 0 (got {t})", field="t")
    return value


def compact(*columns: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """Distinct rows of ``columns`` with their counts and the inverse index.

    Returns ``(distinct_columns, counts, inverse)`` with ``columns[k] == distinct[k][inverse]``.
    """
    stacked = np.column_stack(columns)
    distinct, inverse, counts = np.unique(
        stacked, axis=0, return_inverse=True, return_counts=True
    )
    return tuple(distinct[:, k] for k in range(distinct.shape[1])), counts, inverse.reshape(-1)
