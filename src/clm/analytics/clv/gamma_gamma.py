"""The Gamma-Gamma model of spend per transaction.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves for
Customer Base Analysis. *Journal of Marketing Research* 42(4), 415-430; and Fader & Hardie
(2013), "The Gamma-Gamma Model of Monetary Value" (note).

A customer's transaction values are gamma distributed with shape ``p`` and scale ``nu``; ``nu``
varies across customers as ``Gamma(q, gamma)``. Why this model: the mean of a customer's
observed spend is shrunk towards the population mean by how many transactions it rests on, and
spend is assumed independent of the purchase process, so it combines with BG/NBD or Pareto/NBD
into CLV. It is fitted to repeat buyers only, on the mean of their repeat transactions
(``x`` transactions of mean ``m``)::

    LL = ln G(px+q) - ln G(px) - ln G(q) + q ln(gamma) + (px-1) ln(m) + px ln(x)
         - (px+q) ln(gamma + x m)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
from scipy.special import digamma, gammaln

from clm.analytics.clv.base import MaximumLikelihoodModel, Progress, require_repeat_buyers
from clm.analytics.clv.inputs import check_monetary
from clm.errors import ModelFitError


class GammaGammaModel(MaximumLikelihoodModel):
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005, JMR): parameters ``p, q, gamma``."""

    name: ClassVar[str] = "gg"
    param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")
    min_repeat_buyers: ClassVar[int] = 10

    def fit(self, frequency: Any, monetary_value: Any, *,
            ids: Sequence[Any] | None = None, progress: Progress | None = None) -> Self:
        """Fit to repeat buyers' (frequency, mean repeat spend); one-time buyers are ignored.

        Repeat buyers whose repeat purchases were all free (mean spend 0) cannot come from a
        gamma distribution and are left out; ``excluded_zero_spend_`` counts them.
        """
        x, m = check_monetary(frequency, monetary_value, ids=ids)
        keep = (x > 0) & (m > 0)
        self.excluded_zero_spend_ = int(np.count_nonzero((x > 0) & (m == 0)))
        require_repeat_buyers("Gamma-Gamma", int(keep.sum()), needed=self.min_repeat_buyers)
        x, m = x[keep], m[keep]
        if np.ptp(m) == 0:
            raise ModelFitError(
                "Gamma-Gamma: every repeat buyer has the same mean spend; the model needs "
                "variation in spend between customers"
            )
        # Method-of-moments flavoured start: p ~ 1 transaction shape, mean spend p*gamma/(q-1).
        mean = float(np.mean(m))
        initial = np.array([1.0, 2.0, mean])
        return self._fit_mle((x, m), initial=initial, n_observations=len(x), progress=progress)

    def _loglik(self, params: np.ndarray, data: tuple[np.ndarray, np.ndarray]
                ) -> tuple[float, np.ndarray]:
        p, q, gamma = params
        x, m = data
        px = p * x
        lg = np.log(gamma + x * m)
        ll = np.sum(
            gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma)
            + (px - 1.0) * np.log(m) + px * np.log(x) - (px + q) * lg
        )
        d_pq = digamma(px + q)
        g_p = np.sum(x * (d_pq - digamma(px) + np.log(m) + np.log(x) - lg))
        g_q = np.sum(d_pq - digamma(q) + np.log(gamma) - lg)
        g_gamma = np.sum(q / gamma - (px + q) / (gamma + x * m))
        return float(ll), np.array([g_p, g_q, g_gamma])

    def expected_spend(self, *, frequency: Any, monetary_value: Any) -> np.ndarray:
        """Expected value of a customer's future transactions (FHL 2005 JMR, eq. 5).

        A weighted mean of the population mean ``p gamma / (q-1)`` and the customer's observed
        mean, the weight on the latter growing with their number of transactions. Customers
        without repeat purchases get the population mean. Needs ``q > 1`` (finite mean).
        """
        p, q, gamma = self._require_fitted()
        if q <= 1:
            raise ModelFitError(
                f"Gamma-Gamma: q = {q:.3g} <= 1 means the spend distribution has no finite "
                "mean; expected spend is undefined"
            )
        x, m = check_monetary(frequency, monetary_value)
        m = np.where(x > 0, m, 0.0)
        return (p * (gamma + x * m)) / (p * x + q - 1.0)

    def population_mean_spend(self) -> float:
        """Mean transaction value in the population, ``p gamma / (q - 1)``."""
        p, q, gamma = self._require_fitted()
        return float(p * gamma / (q - 1.0)) if q > 1 else float("inf")
