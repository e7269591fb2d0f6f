"""Vectorised random point processes, the building blocks of every demo time line.

Each function draws points for many customers at once: it takes per-customer arrays (owner,
window start, window end, rate) and returns flat arrays of (owner, time), so no Python loop
runs per customer. Time is measured in days since the demo's start date; float days for
events (seconds matter), integer days for orders (a calendar date plus a time of day later).

Usage is drawn as a gamma renewal process rather than a Poisson process: its counts in a
30-day window vary less (variance mean/shape instead of mean), so an engaged customer does not
look "down 50%" month on month by chance (Cox 1962, *Renewal Theory*).
"""

from __future__ import annotations

import numpy as np

_ROW_BUDGET = 4_000_000  # cells per gap matrix; chunk rows beyond this


def _rows_per_chunk(width: int) -> int:
    return max(1, _ROW_BUDGET // max(width, 1))


def renewal(rng: np.random.Generator, owner: np.ndarray, start: np.ndarray, end: np.ndarray,
            rate: np.ndarray | float, *, shape: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Gamma-renewal points with mean ``rate`` per day inside ``[start, end)`` per segment.

    The first gap is scaled by a uniform draw (a random phase), so segments do not all start
    with an event exactly one mean gap after ``start``.
    """
    owner, start, end = np.asarray(owner), np.asarray(start, float), np.asarray(end, float)
    rate = np.broadcast_to(np.asarray(rate, float), owner.shape)
    keep = (end > start) & (rate > 0)
    owner, start, end, rate = owner[keep], start[keep], end[keep], rate[keep]
    if owner.size == 0:
        return owner, start
    width = int(np.ceil((rate * (end - start)).max() * 1.5 + 12))
    owners, times = [], []
    step = _rows_per_chunk(width)
    for lo in range(0, owner.size, step):
        sl = slice(lo, lo + step)
        scale = (1.0 / (shape * rate[sl]))[:, None]
        gaps = rng.gamma(shape, 1.0, size=(owner[sl].size, width)) * scale
        gaps[:, 0] *= rng.random(owner[sl].size)
        t = start[sl, None] + np.cumsum(gaps, axis=1)
        mask = t < end[sl, None]
        rows = np.nonzero(mask)[0]
        owners.append(owner[sl][rows])
        times.append(t[mask])
    return np.concatenate(owners), np.concatenate(times)


def uniform_counts(rng: np.random.Generator, owner: np.ndarray, start: np.ndarray,
                   end: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exactly ``counts[i]`` points uniform in ``[start[i], end[i])`` for each segment."""
    counts = np.maximum(np.asarray(counts, np.int64), 0)
    rep = np.repeat(np.arange(counts.size), counts)
    start, end = np.asarray(start, float), np.asarray(end, float)
    times = start[rep] + rng.random(rep.size) * (end[rep] - start[rep])
    return np.asarray(owner)[rep], times


def poisson(rng: np.random.Generator, owner: np.ndarray, start: np.ndarray, end: np.ndarray,
            rate: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Poisson points with ``rate`` per day in ``[start, end)`` (rare, independent events)."""
    start, end = np.asarray(start, float), np.asarray(end, float)
    length = np.maximum(end - start, 0.0)
    counts = rng.poisson(np.asarray(rate, float) * length)
    return uniform_counts(rng, owner, start, end, counts)


def forward_days(rng: np.random.Generator, owner: np.ndarray, first: np.ndarray,
                 stop: np.ndarray, gap_lo: int, gap_hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer days ``first + g1, first + g1 + g2, ...`` strictly before ``stop``.

    Gaps are uniform integers in ``[gap_lo, gap_hi]``; ``first`` itself is not returned.
    """
    owner, first, stop = np.asarray(owner), np.asarray(first), np.asarray(stop)
    if owner.size == 0:
        return owner, first
    width = int(max((stop - first).max(), 0) // gap_lo + 2)
    owners, days = [], []
    step = _rows_per_chunk(width)
    for lo in range(0, owner.size, step):
        sl = slice(lo, lo + step)
        gaps = rng.integers(gap_lo, gap_hi + 1, size=(owner[sl].size, width))
        d = first[sl, None] + np.cumsum(gaps, axis=1)
        mask = d < stop[sl, None]
        owners.append(owner[sl][np.nonzero(mask)[0]])
        days.append(d[mask])
    return np.concatenate(owners), np.concatenate(days)


def between(rng: np.random.Generator, lo: np.ndarray | int, hi: np.ndarray | int,
            size: int) -> np.ndarray:
    """Uniform integers in ``[lo, hi]`` (inclusive, per element); ``hi`` below ``lo`` gives lo."""
    lo_arr = np.broadcast_to(np.asarray(lo, np.int64), (size,))
    hi_arr = np.maximum(np.broadcast_to(np.asarray(hi, np.int64), (size,)), lo_arr)
    return rng.integers(lo_arr, hi_arr + 1, size=size)
