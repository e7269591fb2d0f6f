"""Customer lifetime value: discounted expected margin from a purchase model and a spend model.

Combines a transaction model (BG/NBD or Pareto/NBD: how many purchases a customer will make)
with an expected value per purchase (Gamma-Gamma, or any per-customer figure), as in Fader,
Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves", JMR 42(4). The horizon is cut into
``periods`` equal steps; the purchases expected in step ``i`` are discounted by ``(1+d)^i``,
the usual discrete approximation of the discounted expected residual transactions (DERT)
that works for any transaction model, and is what analysts reproduce in a spreadsheet.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clm.analytics.clv.evaluation import TransactionModel
from clm.analytics.clv.inputs import check_horizon
from clm.errors import InputError


def customer_lifetime_value(model: TransactionModel, *, frequency: Any, recency: Any, T: Any,
                            expected_spend: Any, horizon: float, periods: int,
                            discount_rate: float, margin: float = 1.0) -> np.ndarray:
    """Discounted expected margin over ``horizon`` (model time units), per customer.

    Parameters
    ----------
    model
        A fitted transaction model.
    expected_spend
        Expected value of one future purchase per customer (e.g. ``GammaGammaModel
        .expected_spend``), or one number for all.
    horizon, periods
        The horizon in the model's time unit (weeks for CDNOW) and the number of equal steps
        it is cut into; ``discount_rate`` applies per step (a monthly rate for 12 steps a year).
    margin
        Share of spend that is profit, in (0, 1].
    """
    horizon = check_horizon(horizon)
    if not isinstance(periods, int) or periods < 1:
        raise InputError(f"periods must be a whole number >= 1 (got {periods!r})",
                         field="periods")
    if not (np.isfinite(discount_rate) and discount_rate >= 0):
        raise InputError(f"discount_rate must be >= 0 (got {discount_rate})",
                         field="discount_rate")
    if not (0 < margin <= 1):
        raise InputError(f"margin must be in (0, 1] (got {margin})", field="margin")
    step = horizon / periods
    previous = np.zeros(np.shape(np.asarray(frequency, dtype=float)))
    discounted = np.zeros_like(previous)
    for i in range(1, periods + 1):
        cumulative = model.expected_purchases(
            step * i, frequency=frequency, recency=recency, T=T
        )
        discounted += (cumulative - previous) / (1.0 + discount_rate) ** i
        previous = cumulative
    spend = np.asarray(expected_spend, dtype=float)
    return margin * spend * discounted
