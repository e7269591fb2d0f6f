"""The shifted-beta-geometric (sBG) model of contract renewals.

Fader, P. S. & Hardie, B. G. S. (2007). How to Project Customer Retention. *Journal of
Interactive Marketing* 21(1), 76-90.

Each subscriber renews at every period boundary with a constant probability ``1 - theta``;
``theta ~ Beta(alpha, beta)`` across subscribers. Why this model: the observed retention rate of
a cohort rises with tenure even when no individual's behaviour changes, because the churn-prone
leave first; sBG captures that with two parameters and projects the curve forward. For one
cohort with ``n_t`` subscribers alive at the end of period ``t`` (``n_0`` at the start)::

    P(T = t) = B(alpha+1, beta+t-1) / B(alpha, beta)      (churn in period t)
    S(t)     = B(alpha, beta+t) / B(alpha, beta)          (still alive after t periods)
    LL = sum_t (n_{t-1} - n_t) ln P(T = t) + n_k ln S(k)
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from scipy.special import betaln, digamma, hyp2f1

from clm.analytics.clv.base import MaximumLikelihoodModel, Progress
from clm.errors import InputError, ModelFitError


def check_cohort(alive: Any) -> np.ndarray:
    """Validate a cohort's alive counts per period (period 0 first)."""
    try:
        n = np.asarray(alive, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise InputError("alive counts must be numbers", field="alive") from None
    for i, v in enumerate(n):
        if not np.isfinite(v) or v < 0 or v != np.floor(v):
            raise InputError(
                f"period {i}: alive count must be a whole number >= 0 (got {v:g})",
                field="alive",
            )
    if len(n) and n[0] <= 0:
        raise InputError("period 0: the cohort must start with at least one subscriber",
                         field="alive")
    rises = np.flatnonzero(np.diff(n) > 0)
    if len(rises):
        i = int(rises[0]) + 1
        raise InputError(
            f"period {i}: alive count rises from {n[i - 1]:g} to {n[i]:g}; a cohort can only "
            "shrink",
            field="alive",
        )
    if len(n) < 3:
        raise ModelFitError(
            f"sBG: the cohort has {max(len(n) - 1, 0)} period(s) of renewals; at least 2 are "
            "needed to fit the model",
            periods=max(len(n) - 1, 0), needed=2,
        )
    if n[-1] == n[0]:
        raise ModelFitError("sBG: nobody in the cohort churned; the churn rate cannot be fitted")
    return n


class ShiftedBetaGeoModel(MaximumLikelihoodModel):
    """sBG retention model (Fader & Hardie 2007): parameters ``alpha, beta``."""

    name: ClassVar[str] = "sbg"
    param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta")

    def fit(self, alive: Any, *, progress: Progress | None = None) -> Self:
        """Fit to one cohort's alive counts per period, ``alive[0]`` being the cohort size."""
        n = check_cohort(alive)
        lost = -np.diff(n)
        return self._fit_mle((lost, n[-1]), initial=np.array([1.0, 1.0]),
                             n_observations=int(n[0]), progress=progress)

    def _loglik(self, params: np.ndarray, data: tuple[np.ndarray, float]
                ) -> tuple[float, np.ndarray]:
        alpha, beta = params
        lost, survivors = data
        k = len(lost)
        t = np.arange(1, k + 1, dtype=float)
        ab = betaln(alpha, beta)
        d_ab = digamma(alpha + beta)
        # churn in period t: B(alpha+1, beta+t-1) / B(alpha, beta)
        lp = betaln(alpha + 1.0, beta + t - 1.0) - ab
        d_apb = digamma(alpha + beta + t)  # digamma of (alpha+1)+(beta+t-1)
        dlp_da = digamma(alpha + 1.0) - d_apb - (digamma(alpha) - d_ab)
        dlp_db = digamma(beta + t - 1.0) - d_apb - (digamma(beta) - d_ab)
        # survival after k periods: B(alpha, beta+k) / B(alpha, beta)
        ls = betaln(alpha, beta + k) - ab
        d_sk = digamma(alpha + beta + k)
        dls_da = digamma(alpha) - d_sk - (digamma(alpha) - d_ab)
        dls_db = digamma(beta + k) - d_sk - (digamma(beta) - d_ab)
        ll = float(np.dot(lost, lp) + survivors * ls)
        grad = np.array([np.dot(lost, dlp_da) + survivors * dls_da,
                         np.dot(lost, dlp_db) + survivors * dls_db])
        return ll, grad

    # -- predictions (Fader & Hardie 2007, eqs. 1-6) -----------------------------------
    def survival(self, periods: Any) -> np.ndarray:
        """Share of the cohort still alive after each of ``periods`` (S(t), eq. 2)."""
        alpha, beta = self._require_fitted()
        t = _periods(periods)
        return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))

    def retention_rate(self, periods: Any) -> np.ndarray:
        """Renewal rate from period t-1 to t, ``(beta+t-1)/(alpha+beta+t-1)`` (eq. 6)."""
        alpha, beta = self._require_fitted()
        t = _periods(periods)
        return (beta + t - 1.0) / (alpha + beta + t - 1.0)

    def expected_alive(self, periods: Any, *, cohort_size: float) -> np.ndarray:
        """Expected subscribers alive after each period for a cohort of ``cohort_size``."""
        return float(cohort_size) * self.survival(periods)

    def discounted_expected_lifetime(self, *, discount_rate: float) -> float:
        """Discounted expected lifetime of a new subscriber, in periods paid (incl. the first).

        Fader & Hardie (2010), Customer-Base Valuation in a Contractual Setting, Marketing
        Science 29(1): DEL = 2F1(1, beta; alpha+beta; 1/(1+d)). Multiply by the margin per
        period for a CLV.
        """
        alpha, beta = self._require_fitted()
        if not discount_rate > 0:
            raise InputError("discount_rate must be > 0", field="discount_rate")
        return float(hyp2f1(1.0, beta, alpha + beta, 1.0 / (1.0 + discount_rate)))


def _periods(periods: Any) -> np.ndarray:
    t = np.asarray(periods, dtype=float)
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise InputError("periods must be numbers >= 0", field="periods")
    return t
