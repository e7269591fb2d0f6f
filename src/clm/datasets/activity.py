"""Events and interactions of the demo customers, derived from their journeys.

Behaviour follows the milestones in :mod:`clm.datasets.journeys`: browsing and lead forms
before the first order, onboarding a few days after it, product use (logins and core-feature
use) while the customer is active, support contacts, surveys and NPS answers along the way,
and referral records for the referrals drawn there. The two 30-day windows before the end
date are drawn explicitly where the stage criteria compare them: a declining customer's
usage falls by more than half and its support contacts by at least 40%, while active
customers' support contacts never fall between the two windows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from clm.datasets import processes as pp
from clm.datasets.archetypes import CODE
from clm.datasets.journeys import Journeys

CORE_FEATURES: tuple[str, ...] = (
    "dashboard", "reports", "data_export", "automation",
    "team_sharing", "mobile_app", "api", "integrations",
)
# mean satisfaction and NPS (0-10) per archetype
_SATISFACTION = {"prospect": 7.0, "new": 8.0, "growing": 8.5, "mature": 9.0,
                 "declining": 6.0, "churned": 5.5, "returned": 7.0}


@dataclass
class Points:
    """Flat arrays of dated rows: owner index, time in days, a type name, one extra value."""

    owner: np.ndarray
    time: np.ndarray
    kind: np.ndarray  # object array of type names
    extra: np.ndarray  # feature name (events), score (interactions)
    other: np.ndarray  # referred customer index (interactions), -1 otherwise


class _Collector:
    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, owner: np.ndarray, time: np.ndarray, kind: str | np.ndarray,
            extra: np.ndarray | None = None, other: np.ndarray | None = None) -> None:
        n = np.asarray(owner).size
        kinds = np.broadcast_to(np.asarray(kind, dtype=object), (n,))
        extra = np.full(n, None, dtype=object) if extra is None else np.asarray(extra)
        other = np.full(n, -1, np.int64) if other is None else np.asarray(other, np.int64)
        self.parts.append((np.asarray(owner, np.int64), np.asarray(time, float), kinds,
                           extra, other))

    def points(self) -> Points:
        cols = [np.concatenate([p[i] for p in self.parts]) for i in range(5)]
        order = np.lexsort((cols[1], cols[0]))
        return Points(*(c[order] for c in cols))


def draw_events(rng: np.random.Generator, j: Journeys) -> Points:
    """Page views, lead forms, marketing events, onboarding, logins, feature use, content."""
    out = _Collector()
    e1 = float(j.end + 1)
    _prospect_signals(rng, j, out)
    buyers = np.nonzero(j.first_order >= 0)[0]
    s, f = j.signup[buyers].astype(float), j.first_order[buyers].astype(float) + 1.0
    out.add(*pp.uniform_counts(rng, buyers, s, f, pp.between(rng, 1, 6, buyers.size)),
            "page_view")
    for kind, p in (("lead_form", 0.4), ("marketing_event", 0.25)):
        hit = rng.random(buyers.size) < p
        out.add(*pp.uniform_counts(rng, buyers, s, f, hit.astype(int)), kind)
    done = buyers[~np.isnan(j.onboard[buyers])]
    out.add(done, j.onboard[done], "onboarding_completed")
    back = j.of("returned")  # the win-back campaign that brought them back
    out.add(back, j.return_day[back] - rng.uniform(1.0, 10.0, back.size), "marketing_event")

    perm = np.argsort(rng.random((j.size, len(CORE_FEATURES))), axis=1)
    for owner, t0, t1, rate, pool in _usage_segments(rng, j):
        o, t = pp.renewal(rng, owner, t0, t1, rate, shape=8.0)  # people keep routines
        _usage(rng, out, o, t, pool[np.searchsorted(owner, o)], perm)
        out.add(*pp.poisson(rng, owner, t0, t1, 0.015), "content_interaction")
        out.add(*pp.poisson(rng, owner, t0, t1, 0.015), "page_view")
    dec = j.of("declining")
    pool = pp.between(rng, 3, 5, dec.size)
    prev = 8 + rng.poisson(6, dec.size)
    last = np.floor(prev * rng.uniform(0.05, 0.45, dec.size)).astype(np.int64)
    fewer = np.minimum(pool, 2)  # a fading customer also narrows down to one or two features
    for lo, hi, counts, size in ((j.end - 59, j.end - 29, prev, pool),
                                 (j.end - 29, e1, last, fewer)):
        o, t = pp.uniform_counts(rng, np.arange(dec.size), np.full(dec.size, lo),
                                 np.full(dec.size, hi), counts)
        _usage(rng, out, dec[o], t, size[o], perm)
    return out.points()


def _prospect_signals(rng: np.random.Generator, j: Journeys, out: _Collector) -> None:
    """Every prospect shows interest: a lead form, a recent event, or >= 3 recent page views."""
    idx = j.of("prospect")
    n, e1 = idx.size, float(j.end + 1)
    s = j.signup[idx].astype(float)
    recent = np.maximum(s, j.end - 89.0)
    out.add(*pp.uniform_counts(rng, idx, s, s + 1, pp.between(rng, 1, 3, n)), "page_view")
    form = rng.random(n) < 0.55
    event = rng.random(n) < 0.35
    browse = rng.random(n) < 0.7
    form |= ~(event | browse)
    out.add(idx[form], s[form] + rng.random(int(form.sum())) * np.minimum(10, e1 - s[form]),
            "lead_form")
    out.add(*pp.uniform_counts(rng, idx, recent, np.full(n, e1),
                               event * pp.between(rng, 1, 2, n)), "marketing_event")
    out.add(*pp.uniform_counts(rng, idx, recent, np.full(n, e1),
                               browse * pp.between(rng, 3, 8, n)), "page_view")


Segment = tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]


def _usage_segments(rng: np.random.Generator, j: Journeys) -> tuple[Segment, ...]:
    """(owner, start, end, rate per day, feature pool size) of each archetype's product use."""
    e, e1 = j.end, float(j.end + 1)

    def seg(name: str, t0: Callable, t1: Callable, rate: float, lo: int, hi: int) -> Segment:
        idx = j.of(name)
        ok = ~np.isnan(j.onboard[idx])
        idx = idx[ok]
        start = np.broadcast_to(np.asarray(t0(idx), float), idx.shape)
        end = np.broadcast_to(np.asarray(t1(idx), float), idx.shape)
        return idx, start, end, rate, pp.between(rng, lo, hi, idx.size)

    onb = lambda i: j.onboard[i]  # noqa: E731
    return (
        seg("new", onb, lambda i: e1, 0.3, 1, 2),
        seg("growing", onb, lambda i: np.maximum(j.onboard[i], e - 59), 0.12, 2, 2),
        seg("growing", lambda i: np.maximum(j.onboard[i], e - 59), lambda i: e1, 0.32, 3, 5),
        seg("mature", onb, lambda i: j.first_order[i] + 90.0, 0.15, 3, 3),
        seg("mature", lambda i: j.first_order[i] + 90.0, lambda i: e1, 0.25, 4, 7),
        seg("declining", onb, lambda i: e - 59.0, 0.25, 3, 5),
        seg("churned", onb, lambda i: j.usage_end[i] + 0.0, 0.15, 1, 3),
        seg("returned", onb, lambda i: j.usage_end[i] + 0.0, 0.2, 2, 4),
        seg("returned", lambda i: j.return_day[i] + 0.0, lambda i: e1, 0.25, 1, 2),
    )


def _usage(rng: np.random.Generator, out: _Collector, owner: np.ndarray, time: np.ndarray,
           pool: np.ndarray, perm: np.ndarray) -> None:
    """Split usage points into logins (40%) and feature uses from the owner's feature pool."""
    login = rng.random(owner.size) < 0.4
    out.add(owner[login], time[login], "login")
    fo, ft, fp = owner[~login], time[~login], pool[~login]
    slot = np.floor(rng.random(fo.size) * fp).astype(np.int64)
    names = np.asarray(CORE_FEATURES, dtype=object)[perm[fo, slot]]
    out.add(fo, ft, "feature_used", names)


def draw_interactions(rng: np.random.Generator, j: Journeys,
                      referrals: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Points:
    """Support contacts, complaints, satisfaction surveys, NPS answers and referrals."""
    out = _Collector()
    e, e1 = j.end, float(j.end + 1)
    buyers = np.nonzero(j.first_order >= 0)[0]
    active_from = j.first_order[buyers].astype(float)
    calm_end = np.minimum(j.usage_end[buyers], e - 59).astype(float)
    out.add(*pp.poisson(rng, buyers, active_from, calm_end, 0.02), "support_contact")
    out.add(*pp.poisson(rng, buyers, active_from, calm_end, 0.0015), "complaint")
    for name, prev_mean, last_mean in (("new", 0.0, 0.8), ("growing", 0.4, 0.4),
                                       ("mature", 0.4, 0.4), ("returned", 0.0, 0.5)):
        idx = j.of(name)
        prev = rng.poisson(prev_mean, idx.size)
        last = prev + rng.poisson(last_mean, idx.size)  # never fewer than the month before
        lo = np.maximum(e - 29.0, j.first_order[idx])
        lo = np.where(j.return_day[idx] >= 0, j.return_day[idx], lo)
        out.add(*pp.uniform_counts(rng, idx, np.full(idx.size, e - 59.0),
                                   np.full(idx.size, e - 29.0), prev), "support_contact")
        out.add(*pp.uniform_counts(rng, idx, lo, np.full(idx.size, e1), last),
                "support_contact")
    dec = j.of("declining")
    prev = pp.between(rng, 2, 5, dec.size)
    last = np.floor(prev * rng.uniform(0.0, 0.6, dec.size)).astype(np.int64)
    for lo, hi, counts in ((e - 59.0, e - 29.0, prev), (e - 29.0, e1, last)):
        out.add(*pp.uniform_counts(rng, dec, np.full(dec.size, lo), np.full(dec.size, hi),
                                   counts), "support_contact")
    angry = dec[rng.random(dec.size) < 0.35]
    out.add(angry, e - 89.0 + rng.random(angry.size) * 89.0, "complaint")
    gone = j.of("churned")
    angry = gone[rng.random(gone.size) < 0.3]
    when = j.last_order[angry] - 20.0 + rng.random(angry.size) * 30.0
    out.add(angry, np.maximum(when, j.first_order[angry] + 0.5), "complaint")
    _scores(rng, j, out)
    referrer, referee, day = referrals
    out.add(referrer, day + rng.uniform(0.35, 0.9, day.size), "referral", other=referee)
    return out.points()


def _scores(rng: np.random.Generator, j: Journeys, out: _Collector) -> None:
    """Satisfaction after 15% of orders and NPS answers about every 250 days."""
    means = np.array([_SATISFACTION[name] for name in CODE])
    e1 = float(j.end + 1)
    pick = rng.random(j.order_owner.size) < 0.15
    owner = j.order_owner[pick]
    time = j.order_day[pick] + rng.uniform(1.0, 7.0, owner.size)
    ok = time < e1
    owner, time = owner[ok], time[ok]
    raw = means[j.archetype[owner]] + rng.normal(0.0, 1.0, owner.size)
    out.add(owner, time, "satisfaction", np.clip(np.round(raw * 2) / 2, 0, 10))
    buyers = np.nonzero(j.first_order >= 0)[0]
    until = np.minimum(j.usage_end[buyers] + 1.0, e1)
    o, t = pp.poisson(rng, buyers, j.first_order[buyers].astype(float), until, 1 / 250)
    nps = np.clip(np.round(means[j.archetype[o]] + rng.normal(0.0, 1.5, o.size)), 0, 10)
    out.add(o, t, "nps", nps)
