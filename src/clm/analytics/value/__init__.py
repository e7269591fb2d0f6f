"""Customer value as of any date, in the engine: RFM, ABC tiers, CAC, cohorts, stage history.

Every function takes Ibis tables with the warehouse's canonical schemas and an explicit
``as_of`` date, and returns an Ibis expression (nothing runs until it is executed), so the same
code runs on DuckDB, PostgreSQL and Spark. Definitions and formulas: ``docs/value.md``.
"""

from clm.analytics.value.cac import acquisitions, cac, clv_to_cac, monthly_spend
from clm.analytics.value.cohorts import (
    churn_rate_per_period,
    cohort_retention,
    repeat_purchase_rate,
    retention_matrix,
)
from clm.analytics.value.features import MODEL_COLUMNS, VALUE_COLUMNS, value_features
from clm.analytics.value.rfm import (
    DEFAULT_SEGMENT_MAP,
    SEGMENTS,
    SegmentRule,
    rfm_scores,
    rfm_segment_labels,
)
from clm.analytics.value.stage_history import (
    stage_churn_rate,
    stages_on,
    time_in_stage,
    transition_matrix,
)
from clm.analytics.value.tiers import TIERS, arpu, value_tiers

__all__ = [
    "DEFAULT_SEGMENT_MAP",
    "MODEL_COLUMNS",
    "SEGMENTS",
    "TIERS",
    "VALUE_COLUMNS",
    "SegmentRule",
    "acquisitions",
    "arpu",
    "cac",
    "churn_rate_per_period",
    "clv_to_cac",
    "cohort_retention",
    "monthly_spend",
    "repeat_purchase_rate",
    "retention_matrix",
    "rfm_scores",
    "rfm_segment_labels",
    "stage_churn_rate",
    "stages_on",
    "time_in_stage",
    "transition_matrix",
    "value_features",
    "value_tiers",
]
