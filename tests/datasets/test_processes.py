"""The random point processes stay inside their windows and produce the counts asked for."""

from __future__ import annotations

import numpy as np

from clm.datasets import processes as pp


def _rng() -> np.random.Generator:
    return np.random.default_rng(11)


def test_renewal_points_fall_inside_each_window_at_about_the_rate():
    owner = np.arange(400)
    start, end = np.full(400, 10.0), np.full(400, 70.0)
    o, t = pp.renewal(_rng(), owner, start, end, 0.5, shape=8.0)
    assert ((t >= 10.0) & (t < 70.0)).all()
    counts = np.bincount(o, minlength=400)
    assert abs(counts.mean() - 30) < 1.5
    assert counts.var() < counts.mean()  # more regular than Poisson


def test_renewal_skips_empty_windows_and_zero_rates():
    o, _ = pp.renewal(_rng(), np.array([0, 1, 2]), np.array([5.0, 5.0, 0.0]),
                      np.array([5.0, 50.0, 50.0]), np.array([1.0, 0.0, 0.2]))
    assert set(o) == {2}


def test_uniform_counts_gives_exactly_the_counts():
    counts = np.array([0, 3, 7])
    o, t = pp.uniform_counts(_rng(), np.array([4, 5, 6]), np.array([0.0, 1.0, 2.0]),
                             np.array([1.0, 2.0, 3.0]), counts)
    assert np.bincount(o, minlength=7)[4:].tolist() == [0, 3, 7]
    assert ((t >= o - 4) & (t < o - 3)).all()


def test_forward_days_stay_strictly_between_first_and_stop():
    first, stop = np.array([0, 100]), np.array([200, 150])
    o, d = pp.forward_days(_rng(), np.array([0, 1]), first, stop, 20, 40)
    assert ((d > first[o]) & (d < stop[o])).all()
    gaps = np.diff(d[o == 0])
    assert ((gaps >= 20) & (gaps <= 40)).all()


def test_between_is_inclusive_and_tolerates_an_empty_range():
    values = pp.between(_rng(), 3, np.array([3, 5, 1]), 3)
    assert values[0] == 3 and 3 <= values[1] <= 5 and values[2] == 3
