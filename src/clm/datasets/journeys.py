"""Milestones and paid orders of every demo customer, drawn per archetype.

A journey is a handful of milestone days (signup, first order, last order, onboarding, the day
product use stops, a win-back day, unsubscribe and closure) plus the paid orders between them.
Days count from the demo's start date; ``end`` is the last day (the as-of date of the story).
The windows are those of the default stage criteria (spec section 2, ``feature_catalog``):
"last 30 days" is ``[end-29, end]``, "> 90 days since the last order" is ``last <= end-91``.
Each archetype places its milestones so that, at ``end``, its own stage criteria hold and the
criteria of neighbouring stages do not (a growing customer has no order in the month two
months back, so it never shows the mature "3 consecutive months" streak).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from clm.datasets import processes as pp
from clm.datasets.archetypes import CODE, NAMES, allocate

NONE = -1  # "no such milestone" in the integer milestone arrays


@dataclass
class Journeys:
    """Struct of arrays: one entry per customer, plus the flat paid-order arrays."""

    start: date
    end: int
    archetype: np.ndarray
    signup: np.ndarray
    first_order: np.ndarray
    last_order: np.ndarray
    onboard: np.ndarray  # float day, NaN when onboarding is not completed
    usage_end: np.ndarray  # day product use stopped (churn); ``end`` for active customers
    return_day: np.ndarray
    unsubscribed: np.ndarray
    closed: np.ndarray
    order_owner: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    order_day: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    order_amount: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def size(self) -> int:
        return int(self.archetype.size)

    def of(self, name: str) -> np.ndarray:
        """Indexes of the customers of one archetype."""
        return np.nonzero(self.archetype == CODE[name])[0]


def month_starts(start: date, end: int) -> np.ndarray:
    """Day index of the first day of each calendar month from ``start``'s month to ``end``'s,
    plus one trailing entry: the first day of the month after ``end``."""
    d0 = np.datetime64(start, "D")
    m0 = d0.astype("datetime64[M]")
    m1 = (d0 + end).astype("datetime64[M]")
    months = np.arange(m0, m1 + 2)
    return (months.astype("datetime64[D]") - d0).astype(np.int64)


def _rank_within(owner: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal, contiguous owners."""
    if owner.size == 0:
        return owner
    new_run = np.r_[True, owner[1:] != owner[:-1]]
    starts = np.nonzero(new_run)[0]
    lengths = np.diff(np.r_[starts, owner.size])
    return np.arange(owner.size) - np.repeat(starts, lengths)


class _Orders:
    def __init__(self) -> None:
        self.owner: list[np.ndarray] = []
        self.day: list[np.ndarray] = []
        self.amount: list[np.ndarray] = []

    def add(self, owner: np.ndarray, day: np.ndarray, amount: np.ndarray) -> None:
        self.owner.append(np.asarray(owner, np.int64))
        self.day.append(np.asarray(day, np.int64))
        self.amount.append(np.round(np.asarray(amount, float), 2))


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return median * rng.lognormal(0.0, sigma, n)


def draw_journeys(rng: np.random.Generator, *, customers: int, start: date,
                  end: int) -> Journeys:
    """Draw archetypes, milestones and paid orders for ``customers`` customers."""
    counts = allocate(customers)
    arche = np.repeat(np.arange(len(NAMES)), counts)
    n = customers
    j = Journeys(
        start=start, end=end, archetype=arche,
        signup=np.zeros(n, np.int64), first_order=np.full(n, NONE), last_order=np.full(n, NONE),
        onboard=np.full(n, np.nan), usage_end=np.full(n, end), return_day=np.full(n, NONE),
        unsubscribed=np.full(n, NONE), closed=np.full(n, NONE),
    )
    orders = _Orders()
    months = month_starts(start, end)
    _prospects(rng, j)
    _new(rng, j, orders)
    _growing(rng, j, orders, months)
    _mature(rng, j, orders, months)
    _declining(rng, j, orders)
    _churned(rng, j, orders)
    _returned(rng, j, orders)
    owner = np.concatenate(orders.owner)
    day = np.concatenate(orders.day)
    amount = np.concatenate(orders.amount)
    order = np.lexsort((day, owner))
    j.order_owner, j.order_day, j.order_amount = owner[order], day[order], amount[order]
    buyers = np.unique(j.order_owner)
    j.first_order[buyers] = np.minimum.reduceat(j.order_day, _run_starts(j.order_owner))
    j.last_order[buyers] = np.maximum.reduceat(j.order_day, _run_starts(j.order_owner))
    return j


def _run_starts(owner: np.ndarray) -> np.ndarray:
    return np.nonzero(np.r_[True, owner[1:] != owner[:-1]])[0]


def _signup(rng: np.random.Generator, first: np.ndarray, lead: int) -> np.ndarray:
    """Signup up to ``lead`` days before the first order, never before the story starts."""
    return first - pp.between(rng, 0, np.minimum(lead, first), first.size)


def _onboard(rng: np.random.Generator, j: Journeys, idx: np.ndarray, first: np.ndarray) -> None:
    j.onboard[idx] = first + rng.uniform(0.1, 7.0, idx.size)


def _prospects(rng: np.random.Generator, j: Journeys) -> None:
    idx = j.of("prospect")
    j.signup[idx] = pp.between(rng, 0, j.end - 3, idx.size)


def _new(rng: np.random.Generator, j: Journeys, orders: _Orders) -> None:
    """First order in the last 30 days; at most one more, no bigger than the first."""
    idx, e = j.of("new"), j.end
    f = e - pp.between(rng, 1, 28, idx.size)
    j.signup[idx] = _signup(rng, f, 21)
    a0 = _lognormal(rng, 600, 0.5, idx.size)
    orders.add(idx, f, a0)
    again = (rng.random(idx.size) < 0.3) & (f + 2 <= e)
    orders.add(idx[again], pp.between(rng, f[again] + 2, e, int(again.sum())),
               a0[again] * rng.uniform(0.7, 1.1, int(again.sum())))
    onboarded = rng.random(idx.size) < 0.85
    onboard = f + rng.uniform(0.1, 6.0, idx.size)
    j.onboard[idx] = np.where(onboarded & (onboard < e + 1), onboard, np.nan)


def _growing(rng: np.random.Generator, j: Journeys, orders: _Orders, months: np.ndarray) -> None:
    """Sparse early orders, then two to four bigger repurchases in the last 30 days."""
    idx, e = j.of("growing"), j.end
    m_end = np.searchsorted(months, e, side="right") - 1
    two_back, one_back = months[m_end - 2], months[m_end - 1]
    f = pp.between(rng, max(e - 240, 0), two_back - 1, idx.size)
    j.signup[idx] = _signup(rng, f, 30)
    a0 = _lognormal(rng, 500, 0.5, idx.size)
    orders.add(idx, f, a0)
    phase = e - pp.between(rng, 32, 45, idx.size)
    pos = np.arange(idx.size)
    o, d = pp.forward_days(rng, pos, f, phase, 35, 70)
    keep = (d < two_back) | (d >= one_back)  # no order two months back: streak stays < 3
    o, d = o[keep], d[keep]
    step = 1.0 + 0.12 * (_rank_within(o) + 1)
    orders.add(idx[o], d, a0[o] * step * rng.lognormal(0.0, 0.1, o.size))
    k = pp.between(rng, 2, 4, idx.size)
    o2, t2 = pp.uniform_counts(rng, pos, np.full(idx.size, e - 29), np.full(idx.size, e + 1), k)
    d2 = np.floor(t2)
    keep = (d2 < two_back) | (d2 >= one_back)  # short months: keep the streak below 3
    o2, d2 = o2[keep], d2[keep]
    orders.add(idx[o2], d2, a0[o2] * rng.uniform(1.6, 2.4, o2.size))
    _onboard(rng, j, idx, f)


def _mature(rng: np.random.Generator, j: Journeys, orders: _Orders, months: np.ndarray) -> None:
    """A ramp-up of 2-4 months, then an order in (nearly) every calendar month, high value."""
    idx, e = j.of("mature"), j.end
    n = idx.size
    f = pp.between(rng, max(e - 700, 0), e - 270, n)
    j.signup[idx] = _signup(rng, f, 30)
    base = _lognormal(rng, 2800, 0.45, n)
    ramp_end = f + pp.between(rng, 60, 120, n)
    orders.add(idx, f, base * 0.4)
    pos = np.arange(n)
    o, d = pp.forward_days(rng, pos, f, ramp_end, 20, 45)
    share = 0.4 + 0.6 * (d - f[o]) / np.maximum(ramp_end[o] - f[o], 1)
    orders.add(idx[o], d, base[o] * share * rng.lognormal(0.0, 0.1, o.size))
    m_end = np.searchsorted(months, e, side="right") - 1
    first_m, lengths = months[:-1], np.diff(months)
    forced = np.zeros(first_m.size, bool)
    forced[m_end - 3:m_end] = True  # the three full months before the end month
    for extra_p, must in ((0.88, forced), (0.2, np.zeros_like(forced))):
        hit = (rng.random((n, first_m.size)) < extra_p) | must[None, :]
        day = first_m[None, :] + np.floor(rng.random((n, first_m.size)) * lengths[None, :])
        ok = hit & (day > ramp_end[:, None]) & (day <= e)
        rows = np.nonzero(ok)[0]
        orders.add(idx[rows], day[ok], base[rows] * rng.lognormal(0.0, 0.15, rows.size))
    recent = e - pp.between(rng, 0, 40, n)  # never 60 days without an order
    orders.add(idx, recent, base * rng.lognormal(0.0, 0.15, n))
    _onboard(rng, j, idx, f)


def _declining(rng: np.random.Generator, j: Journeys, orders: _Orders) -> None:
    """Regular orders, then widening gaps; the last order 61-88 days before the end."""
    idx, e = j.of("declining"), j.end
    n = idx.size
    f = pp.between(rng, max(e - 650, 0), e - 200, n)
    j.signup[idx] = _signup(rng, f, 30)
    base = _lognormal(rng, 1500, 0.5, n)
    last = e - pp.between(rng, 61, 88, n)
    fade = last - pp.between(rng, 60, 120, n)
    orders.add(idx, f, base * rng.lognormal(0.0, 0.1, n))
    o, d = pp.forward_days(rng, np.arange(n), f, fade, 20, 40)
    orders.add(idx[o], d, base[o] * rng.lognormal(0.0, 0.1, o.size))
    d1 = last - pp.between(rng, 40, 55, n)
    d2 = d1 - pp.between(rng, 28, 38, n)
    for day in (d2, d1):
        ok = (day > fade) & (day > f)
        orders.add(idx[ok], day[ok], base[ok] * rng.uniform(0.5, 0.8, int(ok.sum())))
    orders.add(idx, last, base * rng.uniform(0.4, 0.7, n))
    _onboard(rng, j, idx, f)


def _churned(rng: np.random.Generator, j: Journeys, orders: _Orders) -> None:
    """Faded new buyers (one or two orders) and lapsed regulars; silent > 90 days."""
    idx, e = j.of("churned"), j.end
    n = idx.size
    last = e - pp.between(rng, 95, min(600, e), n)
    faded = rng.random(n) < 0.45
    span = np.where(faded, np.where(rng.random(n) < 0.5, 0, pp.between(rng, 10, 60, n)),
                    pp.between(rng, 90, 400, n))
    f = np.where(span > last, pp.between(rng, 0, last, n), last - span)
    j.signup[idx] = _signup(rng, f, 30)
    base = _lognormal(rng, 800, 0.6, n)
    orders.add(idx, f, base)
    lapsed = np.nonzero(~faded)[0]
    o, d = pp.forward_days(rng, lapsed, f[lapsed], last[lapsed] - 45, 20, 45)
    orders.add(idx[o], d, base[o] * rng.lognormal(0.0, 0.15, o.size))
    later = last > f
    orders.add(idx[later], last[later], base[later] * rng.uniform(0.5, 0.9, int(later.sum())))
    _onboard(rng, j, idx, f)
    j.usage_end[idx] = np.minimum(last + pp.between(rng, 10, 40, n), e - 65)
    unsub = rng.random(n) < 0.35
    j.unsubscribed[idx[unsub]] = np.minimum(last[unsub] + pp.between(rng, 15, 150, unsub.sum()), e)
    closed = rng.random(n) < 0.2
    j.closed[idx[closed]] = np.minimum(last[closed] + pp.between(rng, 30, 240, closed.sum()), e)


def _returned(rng: np.random.Generator, j: Journeys, orders: _Orders) -> None:
    """A lapsed regular, silent for 4-8 months, back with a win-back order in the last 30 days."""
    idx, e = j.of("returned"), j.end
    n = idx.size
    back = e - pp.between(rng, 2, 25, n)
    lapse = back - pp.between(rng, 120, 260, n)
    span = pp.between(rng, 30, 200, n)
    f = np.where(span > lapse, pp.between(rng, 0, lapse, n), lapse - span)
    j.signup[idx] = _signup(rng, f, 30)
    base = _lognormal(rng, 900, 0.5, n)
    orders.add(idx, f, base)
    o, d = pp.forward_days(rng, np.arange(n), f, lapse - 20, 20, 45)
    orders.add(idx[o], d, base[o] * rng.lognormal(0.0, 0.15, o.size))
    later = lapse > f
    orders.add(idx[later], lapse[later], base[later] * rng.lognormal(0.0, 0.15, int(later.sum())))
    orders.add(idx, back, base * rng.uniform(0.6, 1.0, n))
    _onboard(rng, j, idx, f)
    j.usage_end[idx] = lapse + pp.between(rng, 10, 30, n)
    j.return_day[idx] = back


def draw_referrals(rng: np.random.Generator, j: Journeys, *,
                   share: float = 0.15) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Referrals (referrer, referee, day): mature customers bringing in later signups.

    A share of all customers are candidate referees; each is referred by a mature customer
    whose first order is at least 15 days before the referee's signup, on a day 1-14 days
    before that signup. Candidates without an eligible referrer stay unreferred.
    """
    mature = j.of("mature")
    by_first = mature[np.argsort(j.first_order[mature], kind="stable")]
    firsts = j.first_order[by_first]
    candidate = np.nonzero(rng.random(j.size) < share)[0]
    eligible = np.searchsorted(firsts, j.signup[candidate] - 15, side="right")
    pick = np.floor(rng.random(candidate.size) * eligible).astype(np.int64)
    ok = eligible > 0
    referee = candidate[ok]
    referrer = by_first[pick[ok]]
    day = j.signup[referee] - pp.between(rng, 1, 14, referee.size)
    day = np.maximum(day, j.first_order[referrer])
    return referrer, referee, day
