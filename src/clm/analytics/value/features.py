"""Per-customer value columns as stage-rule features, one row per customer.

The stage model's rules read per-customer features by name; this module gives them the value
measures (RFM scores and segment, ABC tier) so a rule can say ``r_score <= 2`` or
``value_tier == "A"``, and so ``clm run`` can write them beside the stage (``values.csv``).
ARPU and its percentile are catalog features already (``clm.analytics.features``), so they are
not repeated here: joining both tables on ``customer_id`` gives no clashing column.

The probabilistic CLV models (``clm.analytics.clv``) produce clv, p_alive and
expected_purchases per customer; pass their output as ``model_values`` and its columns are
joined on ``customer_id``. That argument is the one join point between the two, so neither
package imports the other.

Customers without a paid order on or before D have empty value columns: they have no
recency, frequency or spend to score.
"""

from __future__ import annotations

import datetime as dt

import ibis.expr.types as ir

from clm.analytics.value.inputs import check_as_of, require_columns
from clm.analytics.value.rfm import rfm_scores
from clm.analytics.value.tiers import value_tiers
from clm.errors import InputError

VALUE_COLUMNS: tuple[str, ...] = (
    "r_score", "f_score", "m_score", "rfm_segment", "value_tier", "spend_share_cumulative",
)
MODEL_COLUMNS: tuple[str, ...] = ("clv", "p_alive", "expected_purchases")


def value_features(orders: ir.Table, customers: ir.Table, *, as_of: dt.date, bins: int = 5,
                   a_share: float = 0.8, b_share: float = 0.95,
                   model_values: ir.Table | None = None) -> ir.Table:
    """customer_id plus ``VALUE_COLUMNS`` (and the model columns given) for every customer.

    Parameters
    ----------
    orders, customers
        Canonical input tables.
    as_of
        The date D.
    bins, a_share, b_share
        Passed to ``rfm_scores`` and ``value_tiers``.
    model_values
        Optional per-customer table from the CLV models with ``customer_id`` and any of
        ``MODEL_COLUMNS``; its other columns are ignored.
    """
    as_of = check_as_of(as_of)
    require_columns(customers, table_name="customers", columns=("customer_id",))
    rfm = rfm_scores(orders, as_of=as_of, bins=bins)
    tiers = value_tiers(orders, as_of=as_of, a_share=a_share, b_share=b_share)
    base = customers.select("customer_id").distinct()
    out = base.left_join(
        rfm.select("customer_id", "r_score", "f_score", "m_score", "rfm_segment"),
        "customer_id",
    )
    out = out.left_join(
        tiers.select("customer_id", "value_tier",
                     spend_share_cumulative=tiers.cumulative_share),
        "customer_id",
    )
    out = out.select("customer_id", *VALUE_COLUMNS)
    if model_values is not None:
        require_columns(model_values, table_name="model_values", columns=("customer_id",))
        cols = [c for c in MODEL_COLUMNS if c in model_values.columns]
        if not cols:
            raise InputError(f"model_values has none of {', '.join(MODEL_COLUMNS)}",
                             table="model_values")
        out = out.left_join(model_values.select("customer_id", *cols), "customer_id")
        out = out.select("customer_id", *VALUE_COLUMNS, *cols)
    return out.order_by("customer_id")
