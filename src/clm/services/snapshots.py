"""What an engine run leaves in the store for the record, the API and the dashboard.

A server must not read the analytics warehouse while a batch run writes it (a DuckDB file has
one writer), so each run copies what the operational side shows into the store: per-customer
metrics (``customer_metrics``) and aggregates (``analytics_snapshots``: stage counts, cohort
retention, RFM segments, CLV distribution, the import report). Both are replaced, not
appended, so re-running the same date leaves the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from clm.services.audit import transaction
from clm.store.bulk import insert_frame, utcnow
from clm.store.tables import AnalyticsSnapshot, CustomerMetrics

SNAPSHOT_KINDS = (
    "stage_counts",
    "cohort_retention",
    "rfm_segments",
    "value_tiers",
    "clv_distribution",
    "import_report",
    "model_values",
)


def _default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return str(value)


def replace_metrics(session: Session, metrics: pd.DataFrame) -> int:
    """Replace every customer's metrics row with ``metrics`` (one run's cache)."""
    with transaction(session):
        session.execute(delete(CustomerMetrics))
        return insert_frame(session, CustomerMetrics.__table__, metrics)


def save_snapshot(session: Session, *, kind: str, as_of: dt.date, payload: Any) -> None:
    """Store ``payload`` as the ``kind`` aggregate of ``as_of``, replacing an earlier one."""
    if kind not in SNAPSHOT_KINDS:
        raise ValueError(f"unknown snapshot kind {kind!r}")
    text = json.dumps(payload, ensure_ascii=False, default=_default, sort_keys=True)
    with transaction(session):
        row = session.execute(
            select(AnalyticsSnapshot).where(
                AnalyticsSnapshot.kind == kind, AnalyticsSnapshot.as_of == as_of
            )
        ).scalar_one_or_none()
        if row is None:
            session.add(
                AnalyticsSnapshot(kind=kind, as_of=as_of, payload=text, created_at=utcnow())
            )
        elif row.payload != text:
            row.payload = text


def latest_snapshot(session: Session, kind: str) -> tuple[dt.date, Any] | None:
    """The newest ``kind`` aggregate and its as-of date, or None before any run."""
    row = session.execute(
        select(AnalyticsSnapshot)
        .where(AnalyticsSnapshot.kind == kind)
        .order_by(AnalyticsSnapshot.as_of.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if row is None else (row.as_of, json.loads(row.payload))


def _histogram(values: pd.Series, bins: int = 20) -> list[dict[str, float]]:
    clean = values.dropna().astype(float)
    clean = clean[np.isfinite(clean)]
    if clean.empty:
        return []
    hi = float(clean.quantile(0.99)) or float(clean.max()) or 1.0
    edges = np.linspace(0.0, hi, bins + 1)
    counts, _ = np.histogram(clean.clip(upper=hi), bins=edges)
    return [
        {"lo": round(float(lo), 2), "hi": round(float(up), 2), "customers": int(n)}
        for lo, up, n in zip(edges[:-1], edges[1:], counts, strict=True)
    ]


def run_snapshots(
    tables: dict[str, Any],
    *,
    as_of: dt.date,
    stage_ids: list[str],
    stages: pd.DataFrame,
    values: pd.DataFrame,
    model_info: dict[str, Any],
    import_report: dict[str, Any],
) -> dict[str, Any]:
    """The aggregates of one run, by snapshot kind."""
    from clm.analytics.value import cohort_retention

    counts = stages["stage"].value_counts()
    cohorts = cohort_retention(tables["orders"], as_of=as_of).execute()
    cohorts = cohorts.assign(cohort_month=cohorts["cohort_month"].astype(str))
    tiers = values.groupby("value_tier", dropna=True).agg(customers=("customer_id", "size"))
    return {
        "stage_counts": [{"stage": s, "customers": int(counts.get(s, 0))} for s in stage_ids],
        "cohort_retention": cohorts[
            [
                "cohort_month",
                "period",
                "cohort_size",
                "customers_active",
                "retention",
                "revenue",
                "revenue_retention",
            ]
        ].to_dict("records"),
        "rfm_segments": [
            {"segment": k, "customers": int(v)}
            for k, v in values["rfm_segment"].value_counts().sort_index().items()
        ],
        "value_tiers": [{"tier": k, "customers": int(r.customers)} for k, r in tiers.iterrows()],
        "clv_distribution": _histogram(values["clv"]),
        "import_report": import_report,
        "model_values": model_info,
    }
