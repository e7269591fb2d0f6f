"""Point-in-time customer features as Ibis expressions (DuckDB by default, any Ibis backend).

``compute_features(tables, as_of=D)`` returns one row per customer with every feature of
``clm.analytics.feature_catalog`` computed from data dated on or before D only; the catalog
and ``docs/features.md`` give each feature's definition, unit and window. The modules split
the work by source: ``transactions`` (orders), ``behaviour`` (events), ``interactions``
(support, surveys, referrals); ``asof`` holds the date arithmetic and input checks, and
``compute`` joins the per-source aggregates to the customers. ``state`` carries the cumulative
aggregates from one date to the next, so a backfill reads each row about once.
"""

from clm.analytics.features.compute import compute_features, feature_usage, order_dates
from clm.analytics.features.state import FeatureState, cumulative_state

__all__ = ["FeatureState", "compute_features", "cumulative_state", "feature_usage", "order_dates"]
