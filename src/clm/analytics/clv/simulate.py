"""Synthetic customers drawn from the BG/NBD process, for tests and benchmarks.

Drawn exactly as the model of Fader, Hardie & Lee (2005) describes them: a purchase rate
``lambda ~ Gamma(r, alpha)`` and a drop-out probability ``p ~ Beta(a, b)`` per customer;
transactions arrive as a Poisson process and after each one the customer drops out with
probability ``p``. Vectorised without a per-customer loop: with ``N`` Poisson events in
``(0, T]`` and ``J`` the geometric number of transactions until drop-out, ``x = min(N, J)``, and
the time of the x-th of ``N`` uniform events is ``T * Beta(x, N - x + 1)``.
"""

from __future__ import annotations

import numpy as np


def simulate_beta_geo(n: int, *, r: float, alpha: float, a: float, b: float,
                      T: float | np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """``(frequency, recency, T)`` of ``n`` customers observed for ``T`` each (seeded)."""
    rng = np.random.default_rng(seed)
    t = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    events = rng.poisson(lam * t)
    until_dropout = rng.geometric(np.clip(p, 1e-12, 1.0))
    x = np.minimum(events, until_dropout)
    recency = np.zeros(n)
    has = x > 0
    recency[has] = t[has] * rng.beta(x[has], events[has] - x[has] + 1)
    return x.astype(float), recency, t
