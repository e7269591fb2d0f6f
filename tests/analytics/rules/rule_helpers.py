"""Hand-built feature rows for the rule tests: a neutral customer, changed one field at a time.

Import it from a test module in this folder as ``from rule_helpers import ...`` (pytest puts the
folder on ``sys.path``; the file name is unique across the test tree).
"""

from __future__ import annotations

from datetime import date

import ibis
import pyarrow as pa

from clm.analytics.feature_catalog import CATALOG

AS_OF = date(2024, 6, 30)
_ARROW = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string()}

# A repeat buyer whom no criterion of the default model holds: the fallback gives "growing".
NEUTRAL: dict[str, object] = {
    "order_count": 2,
    "total_spend": 200.0,
    "avg_order_value": 100.0,
    "first_order_amount": 100.0,
    "aov_change_vs_first": 0.0,
    "days_since_first_order": 200,
    "days_since_last_order": 40,
    "orders_30d": 0,
    "orders_prev_30d": 1,
    "orders_90d": 1,
    "spend_30d": 0.0,
    "spend_90d": 100.0,
    "repurchases_30d": 0,
    "arpu_monthly": 33.3333,
    "arpu_percentile": 0.5,
    "active_months_streak": 1,
    "refunds_90d": 0,
    "page_views_90d": 0,
    "lead_forms_total": 0,
    "marketing_events_90d": 0,
    "onboarding_completed": False,
    "days_since_onboarding": None,
    "active_days_30d": 5,
    "logins_30d": 10,
    "distinct_features_30d": 1,
    "feature_uses_30d": 10,
    "usage_30d": 20,
    "usage_prev_30d": 20,
    "usage_change_pct": 0.0,
    "content_interactions_90d": 0,
    "support_contacts_30d": 0,
    "support_contacts_prev_30d": 0,
    "support_contacts_change_pct": None,
    "complaints_90d": 0,
    "satisfaction_latest": None,
    "nps_latest": None,
    "referrals_total": 0,
    "referrals_90d": 0,
    "unsubscribed": False,
    "account_closed": False,
    "tenure_days": 220,
}
# Someone with no order and no sign of interest.
LEAD: dict[str, object] = {
    **{k: (None if isinstance(v, float) else v) for k, v in NEUTRAL.items()},
    "order_count": 0,
    "total_spend": 0.0,
    "days_since_first_order": None,
    "days_since_last_order": None,
    "orders_prev_30d": 0,
    "orders_90d": 0,
    "spend_90d": 0.0,
    "active_months_streak": 0,
    "arpu_monthly": 0.0,
    "arpu_percentile": None,
}


def customer(base: dict | None = None, **changes: object) -> dict[str, object]:
    """The neutral customer (or ``base``) with ``changes``."""
    return {**(NEUTRAL if base is None else base), **changes}


def feature_table(
    rows: list[dict], ids: list[str] | None = None, *, spark_safe: bool = False
) -> ibis.Table:
    """An Ibis memtable with the catalog's column types (base and value features), one row
    per dict; a feature missing from a row is null.

    Built from Arrow with explicit types, so every backend receives the same typed columns and
    nulls. ``spark_safe`` works around how Ibis 12 + PySpark 4.0.5 load memtables: an int64
    column holding any null arrives entirely null, and a null float arrives as NaN. Numbers are
    then shipped as float64 and turned back (NaN -> null, then int64) inside the expression.
    """
    ids = ids or [f"c{i}" for i in range(len(rows))]
    columns = {"customer_id": pa.array(ids, type=pa.string())}
    for spec in CATALOG:
        kind = pa.float64() if spark_safe and spec.dtype == "int" else _ARROW[spec.dtype]
        columns[spec.name] = pa.array([r.get(spec.name) for r in rows], type=kind)
    table = ibis.memtable(pa.table(columns))
    if not spark_safe:
        return table
    fixed = {}
    for spec in CATALOG:
        if spec.dtype in ("int", "float"):
            col = table[spec.name]
            clean = ibis.ifelse(col.isnan(), ibis.null("float64"), col)
            fixed[spec.name] = clean.cast("int64") if spec.dtype == "int" else clean
    return table.mutate(**fixed)
