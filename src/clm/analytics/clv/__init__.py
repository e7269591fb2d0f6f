"""Probabilistic customer-value models: BG/NBD, Pareto/NBD, Gamma-Gamma and sBG.

One published model per module, each an estimator (``fit(...) -> self``, ``params_``,
``log_likelihood_``, ``standard_errors_``, JSON persistence), plus the per-customer summaries
they are fitted on (``summary``), the holdout check (``evaluation``) and CLV
(``lifetime_value``).
"""

from clm.analytics.clv.beta_geo import BetaGeoModel
from clm.analytics.clv.evaluation import holdout_report
from clm.analytics.clv.gamma_gamma import GammaGammaModel
from clm.analytics.clv.lifetime_value import customer_lifetime_value
from clm.analytics.clv.pareto_nbd import ParetoNBDModel
from clm.analytics.clv.shifted_beta_geo import ShiftedBetaGeoModel
from clm.analytics.clv.summary import calibration_holdout_summary, rfm_summary

MODELS = {m.name: m for m in (BetaGeoModel, ParetoNBDModel, GammaGammaModel, ShiftedBetaGeoModel)}

__all__ = [
    "MODELS",
    "BetaGeoModel",
    "GammaGammaModel",
    "ParetoNBDModel",
    "ShiftedBetaGeoModel",
    "calibration_holdout_summary",
    "customer_lifetime_value",
    "holdout_report",
    "rfm_summary",
]
