"""The stage model and rule engine: lifecycle stages decided by criteria users edit in files.

* ``load_model(path_or_name)`` reads a stage model (YAML/TOML; the shipped ``default``,
  ``relationship``, ``marketing``, ``value``) into a checked ``StageModel``;
* ``assign_stages(features, *, model, as_of, previous)`` decides every customer's stage in the
  engine, with hysteresis (margin, minimum stay), grey-zone flag and reasons;
* ``explain(model, feature_row, locale)`` judges every criterion for one customer in Python,
  and ``localize_reasons`` renders the ``reasons`` column for a reader in en or zh-CN;
* ``parse_expression`` / ``evaluate_expression`` expose the rule language (tag rules use it);
* ``referenced_features(model)`` names every feature a model reads, so a caller computes the
  value features (RFM, tier, CLV, P(alive)) only for a model that uses them.

See ``docs/stage-models.md`` for the language, the file format and the algorithm.
"""

from clm.analytics.rules.assign import OUTPUT_COLUMNS, assign_stages
from clm.analytics.rules.explain import Reason, evaluate_expression, explain, localize_reasons
from clm.analytics.rules.loader import load_model, model_version, parse_model, shipped_models
from clm.analytics.rules.model import (
    Criterion,
    FallbackRule,
    Labels,
    Stage,
    StageModel,
    referenced_features,
)
from clm.analytics.rules.nodes import Origin
from clm.analytics.rules.parser import parse_expression

__all__ = [
    "OUTPUT_COLUMNS",
    "Criterion",
    "FallbackRule",
    "Labels",
    "Origin",
    "Reason",
    "Stage",
    "StageModel",
    "assign_stages",
    "evaluate_expression",
    "explain",
    "load_model",
    "localize_reasons",
    "model_version",
    "parse_expression",
    "parse_model",
    "referenced_features",
    "shipped_models",
]
