"""The BG/NBD model of repeat purchasing for non-contractual businesses.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An
Alternative to the Pareto/NBD Model. *Marketing Science* 24(2), 275-284.

While alive, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``; after
each purchase they drop out with probability ``p ~ Beta(a, b)``. Why this model: it has a closed
likelihood that is cheap to evaluate, and on the CDNOW data it fits as well as the Pareto/NBD.

The likelihood of a customer with ``x`` repeat purchases, the last at ``t_x``, observed for ``T``
(eq. 6 of the paper, in logs)::

    LL = ln G(r+x) - ln G(r) + r ln(alpha) + ln B(a, b+x) - ln B(a, b)
         + ln[ (alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x) ]

The last term is evaluated as a softplus of the log-ratio of its two parts, so it stays finite
for customers with hundreds of purchases. The gamma/digamma terms depend on ``x`` only and are
evaluated once per distinct frequency; the rest is vectorised over customers (or over distinct
customer rows, weighted by their counts).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from clm.analytics.clv.base import MaximumLikelihoodModel, Progress, require_repeat_buyers
from clm.analytics.clv.inputs import check_horizon, check_rft, compact
from clm.errors import ModelFitError

_WARM_START_ABOVE = 200_000


@dataclass(frozen=True)
class _Data:
    """Customers grouped for the likelihood: distinct frequencies and row-level terms."""

    xs: np.ndarray  # distinct frequencies
    count_x: np.ndarray  # weight of each distinct frequency
    T0: np.ndarray  # T of one-time buyers (x = 0)
    w0: np.ndarray
    x1: np.ndarray  # repeat buyers: frequency, recency, T, weight
    tx1: np.ndarray
    T1: np.ndarray
    w1: np.ndarray
    inv1: np.ndarray  # repeat buyer -> index into xs
    unweighted: bool  # all weights 1 (skip the multiplications)


def _prepare(x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> _Data:
    n = len(x)
    # Compact identical rows when it pays (real data: many one-time buyers share their T).
    sample = T[:10_000]
    if len(np.unique(sample)) < 0.5 * len(sample):
        (x, tx, T), w, _ = compact(x, tx, T)
        w = w.astype(float)
    else:
        w = np.ones(n)
    xs, inv = np.unique(x, return_inverse=True)
    inv = inv.reshape(-1)
    count_x = np.bincount(inv, weights=w, minlength=len(xs))
    zero = x == 0
    rep = ~zero
    return _Data(xs, count_x, T[zero], w[zero], x[rep], tx[rep], T[rep], w[rep], inv[rep],
                 bool(np.all(w == 1.0)))


class BetaGeoModel(MaximumLikelihoodModel):
    """BG/NBD (Fader, Hardie & Lee 2005): purchase counts and drop-out of non-contractual customers.

    Parameters after ``fit`` are ``r, alpha`` (gamma purchase-rate heterogeneity; ``alpha`` in the
    time unit of the data) and ``a, b`` (beta drop-out heterogeneity).
    """

    name: ClassVar[str] = "bgnbd"
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    min_repeat_buyers: ClassVar[int] = 10

    def fit(self, frequency: Any, recency: Any, T: Any, *,
            ids: Sequence[Any] | None = None, progress: Progress | None = None) -> Self:
        """Fit by maximum likelihood to one row per customer (see ``summary.rfm_summary``)."""
        x, tx, t = check_rft(frequency, recency, T, ids=ids)
        require_repeat_buyers("BG/NBD", int(np.count_nonzero(x)), needed=self.min_repeat_buyers)
        # Start at a purchase rate of about 1/mean(T), mild heterogeneity, drop-out p ~ 0.3.
        initial = np.array([1.0, max(float(np.mean(t)), 1e-3), 1.0, 2.0])
        warm_start = False
        if len(x) > _WARM_START_ABOVE:
            # Large data: most optimiser iterations are spent far from the optimum, so take
            # them on a fixed (seeded) subsample and finish on all customers.
            pick = np.random.default_rng(0).choice(len(x), _WARM_START_ABOVE // 4, replace=False)
            if np.count_nonzero(x[pick]) >= self.min_repeat_buyers:
                with contextlib.suppress(ModelFitError):
                    warm = type(self)()._fit_mle(_prepare(x[pick], tx[pick], t[pick]),
                                                 initial=initial, n_observations=len(pick),
                                                 standard_errors=False)
                    initial = np.array([warm.params_[k] for k in self.param_names])
                    warm_start = True
        data = _prepare(x, tx, t)
        return self._fit_mle(data, initial=initial, n_observations=len(x), progress=progress,
                             warm_start=warm_start)

    def _loglik(self, params: np.ndarray, data: _Data) -> tuple[float, np.ndarray]:
        r, alpha, a, b = params
        xs = data.xs
        # per distinct frequency: gamma and beta terms and their derivatives
        rx = r + xs
        a1 = gammaln(rx) - gammaln(r) + r * np.log(alpha)
        a2 = betaln(a, b + xs) - betaln(a, b)
        ll = float(np.dot(data.count_x, a1 + a2))
        d_ab = digamma(a + b)
        d_abx = digamma(a + b + xs)
        g_r = np.dot(data.count_x, digamma(rx) - digamma(r) + np.log(alpha))
        g_alpha = np.sum(data.count_x) * r / alpha
        g_a = np.dot(data.count_x, d_ab - d_abx)
        g_b = np.dot(data.count_x, d_ab + digamma(b + xs) - digamma(b) - d_abx)

        # one-time buyers: - r ln(alpha + T)
        if len(data.T0):
            l0 = np.log(alpha + data.T0)
            inv0 = 1.0 / (alpha + data.T0)
            s_l0 = l0.sum() if data.unweighted else np.dot(data.w0, l0)
            s_inv0 = inv0.sum() if data.unweighted else np.dot(data.w0, inv0)
            ll -= r * s_l0
            g_r -= s_l0
            g_alpha -= r * s_inv0

        # repeat buyers: -(r+x) ln(alpha+T) + softplus(D), D = ln of the second part / first
        if len(data.x1):
            x1 = data.x1
            w1 = None if data.unweighted else data.w1
            rx1 = r + x1
            lT = np.log(alpha + data.T1)
            lt = np.log(alpha + data.tx1)
            gap = lT - lt
            log_bx = np.log(np.maximum(b + data.xs - 1.0, 1e-300))  # per distinct frequency
            d = (np.log(a) - log_bx)[data.inv1] + rx1 * gap
            # softplus(d) and sigmoid(d) from one exponential
            e = np.exp(-np.abs(d))
            softplus = np.maximum(d, 0.0) + np.log1p(e)
            p4 = np.where(d >= 0, 1.0, e) / (1.0 + e)  # P(dropped out after the last purchase)
            inv_T = 1.0 / (alpha + data.T1)
            inv_t = 1.0 / (alpha + data.tx1)
            if w1 is not None:
                p4w = p4 * w1
                ll += float(np.dot(w1, softplus - rx1 * lT))
                g_r += np.dot(p4w, gap) - np.dot(w1, lT)
                g_alpha += np.dot(p4w * rx1, inv_T - inv_t) - np.dot(w1 * rx1, inv_T)
            else:
                p4w = p4
                ll += float(softplus.sum() - np.dot(rx1, lT))
                g_r += np.dot(p4, gap) - lT.sum()
                g_alpha += np.dot(p4 * rx1, inv_T - inv_t) - np.dot(rx1, inv_T)
            g_a += np.sum(p4w) / a
            per_x = np.bincount(data.inv1, weights=p4w, minlength=len(data.xs))
            g_b -= np.dot(per_x, 1.0 / np.maximum(b + data.xs - 1.0, 1e-300))
        return ll, np.array([g_r, g_alpha, g_a, g_b])

    # -- predictions (Fader, Hardie & Lee 2005, eqs. 7-11) -----------------------------
    def probability_alive(self, *, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(still alive at T | x, t_x, T) (FHL 2005, eq. 11 and appendix)."""
        r, alpha, a, b = self._require_fitted()
        x, tx, t = check_rft(frequency, recency, T)
        return _p_alive(r, alpha, a, b, x, tx, t)

    def expected_purchases(self, t: float, *, frequency: Any, recency: Any, T: Any
                           ) -> np.ndarray:
        """Expected purchases in (T, T+t] for each customer (FHL 2005, eq. 10).

        The Gaussian hypergeometric term is Euler-transformed so it stays well conditioned for
        customers with many purchases: (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) equals
        (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z).
        """
        r, alpha, a, b = self._require_fitted()
        x, tx, tt = check_rft(frequency, recency, T)
        t = check_horizon(t)
        z = t / (alpha + tt + t)
        c = a + b + x - 1.0
        tail = np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        base = c / (a - 1.0) * (1.0 - tail)
        return base * _p_alive(r, alpha, a, b, x, tx, tt)

    def expected_purchases_new(self, t: float) -> float:
        """Expected purchases in (0, t] of a customer just acquired (FHL 2005, eq. 9)."""
        r, alpha, a, b = self._require_fitted()
        t = check_horizon(t)
        z = t / (alpha + t)
        return float((a + b - 1.0) / (a - 1.0)
                     * (1.0 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1.0, z)))


def _p_alive(r: float, alpha: float, a: float, b: float, x: np.ndarray, tx: np.ndarray,
             T: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        d = np.log(a) - np.log(np.maximum(b + x - 1.0, 1e-300)) + (r + x) * (
            np.log(alpha + T) - np.log(alpha + tx)
        )
    return np.where(x > 0, expit(-d), 1.0)
