"""The manager's dashboard, read from the store: stages, flows, funnel, value, risk, data quality.

Every figure is an aggregate over the customers the actor may see (``visible_customers``),
narrowed by the same three filters: owner, RFM segment and a period. The store is the source,
not the warehouse: a running server must not read a DuckDB file a batch run is writing, so each
run leaves per-customer metrics (``customer_metrics``) and its aggregates
(``analytics_snapshots``) in the store (:mod:`clm.services.snapshots`). Aggregates that depend
on orders the store does not hold (cohort retention) come from the last run's snapshot and
ignore the owner/segment filters; the page says so.

The figures follow the lifecycle method (spec sections 2, 5 and 6): customers per stage, the
flows between stages over the period (a Sankey diagram needs an acyclic graph, so flows are
drawn from "stage at the start" nodes to "stage entered" nodes), the conversion funnel of
prospect -> new -> growing -> mature counted as customers who ever reached each stage by the
end of the period, RFM segments (Hughes 1994, *Strategic Database Marketing*), the CLV
distribution, and the customers who entered declining or churned during the period.

``as_of`` is the date of the last synced engine run (``customer_stage.synced_on``), never the
clock, so the same store always shows the same dashboard.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Select, and_, case, cast, distinct, func, select
from sqlalchemy.orm import Session

from clm.services.actors import Actor
from clm.services.effectiveness import strategy_effectiveness
from clm.services.snapshots import latest_snapshot
from clm.services.users import visible_customers
from clm.store.tables import Customer, CustomerMetrics, CustomerStage, StageTransition, User

FUNNEL_STAGES: tuple[str, ...] = ("prospect", "new", "growing", "mature")
AT_RISK_STAGES: tuple[str, ...] = ("declining", "churned")
DEFAULT_PERIOD_DAYS = 180
RECENT_DAYS = 30
EFFECT_WINDOW_DAYS = 90
CLV_BINS = 10


@dataclass(frozen=True)
class DashboardFilter:
    """Owner (user id), RFM segment and period; ``None`` means "all" / the default period."""

    owner_id: int | None = None
    segment: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None

    def period(self, as_of: dt.date) -> tuple[dt.date, dt.date]:
        """The period, defaulting to the 180 days up to ``as_of``; start after end is swapped."""
        end = self.end or as_of
        start = self.start or end - dt.timedelta(days=DEFAULT_PERIOD_DAYS)
        return (start, end) if start <= end else (end, start)


@dataclass
class Dashboard:
    as_of: dt.date | None
    start: dt.date
    end: dt.date
    customers: int = 0
    stage_counts: list[tuple[str, int]] = field(default_factory=list)
    flows: list[dict[str, Any]] = field(default_factory=list)
    funnel: list[tuple[str, int]] = field(default_factory=list)
    rfm_segments: list[tuple[str, int]] = field(default_factory=list)
    value_tiers: list[tuple[str, int]] = field(default_factory=list)
    clv_histogram: list[dict[str, Any]] = field(default_factory=list)
    cohort_retention: dict[str, Any] | None = None
    at_risk: list[dict[str, Any]] = field(default_factory=list)
    effectiveness: list[dict[str, Any]] = field(default_factory=list)
    last_import: dict[str, Any] | None = None


def data_as_of(session: Session) -> dt.date | None:
    """The date of the last engine run synced into the store, if any."""
    return session.scalar(select(func.max(CustomerStage.synced_on)))


def _scoped(stmt: Select, column, *, actor: Actor, filters: DashboardFilter) -> Select:
    """Restrict ``stmt`` (whose customer id is ``column``) to the actor's customers and the
    filters. Nothing is joined when nothing restricts: a manager's unfiltered dashboard then
    reads one table per figure (on 100k customers a join per figure cost 0.3-0.7 s)."""
    conditions = []
    if not actor.can("customers:all"):
        conditions.append(visible_customers(actor))
    if filters.owner_id is not None:
        conditions.append(Customer.owner_user_id == filters.owner_id)
    if conditions:
        stmt = stmt.where(column.in_(select(Customer.id).where(*conditions)))
    if filters.segment:
        stmt = stmt.where(
            column.in_(
                select(CustomerMetrics.customer_id).where(
                    CustomerMetrics.rfm_segment == filters.segment
                )
            )
        )
    return stmt


def stage_counts(
    session: Session, *, actor: Actor, filters: DashboardFilter
) -> list[tuple[str, int]]:
    """Customers per current stage, largest first."""
    stmt = select(CustomerStage.stage, func.count()).group_by(CustomerStage.stage)
    scoped = _scoped(stmt, CustomerStage.customer_id, actor=actor, filters=filters)
    rows = session.execute(scoped).all()
    return sorted(((s, int(n)) for s, n in rows), key=lambda r: (-r[1], r[0]))


def stage_flows(
    session: Session, *, actor: Actor, filters: DashboardFilter, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """Transitions within ``[start, end]`` by (from, to) stage; a first stage has from None."""
    stmt = (
        select(StageTransition.from_stage, StageTransition.to_stage, func.count())
        .join(CustomerStage, CustomerStage.customer_id == StageTransition.customer_id)
        .where(
            StageTransition.changed_on >= start,
            StageTransition.changed_on <= end,
            StageTransition.model_version == CustomerStage.model_version,
        )
        .group_by(StageTransition.from_stage, StageTransition.to_stage)
    )
    scoped = _scoped(stmt, StageTransition.customer_id, actor=actor, filters=filters)
    rows = session.execute(scoped).all()
    flows = [{"from": f, "to": t, "customers": int(n)} for f, t, n in rows]
    return sorted(flows, key=lambda r: (-r["customers"], r["from"] or "", r["to"]))


def funnel(
    session: Session,
    *,
    actor: Actor,
    filters: DashboardFilter,
    end: dt.date,
    stages: tuple[str, ...] = FUNNEL_STAGES,
) -> list[tuple[str, int]]:
    """Customers who ever reached each stage of ``stages`` by ``end`` (under the active model).

    A customer who reached "mature" without passing "growing" in the history still counts for
    "mature" only: the funnel shows what happened, it does not invent steps.
    """
    stmt = (
        select(StageTransition.to_stage, func.count(distinct(StageTransition.customer_id)))
        .join(CustomerStage, CustomerStage.customer_id == StageTransition.customer_id)
        .where(
            StageTransition.to_stage.in_(stages),
            StageTransition.changed_on <= end,
            StageTransition.model_version == CustomerStage.model_version,
        )
        .group_by(StageTransition.to_stage)
    )
    scoped = _scoped(stmt, StageTransition.customer_id, actor=actor, filters=filters)
    found = dict(session.execute(scoped).all())
    return [(s, int(found.get(s, 0))) for s in stages]


def _metric_counts(session: Session, column, *, actor: Actor, filters: DashboardFilter):
    stmt = select(column, func.count()).where(column.is_not(None)).group_by(column)
    scoped = _scoped(stmt, CustomerMetrics.customer_id, actor=actor, filters=filters)
    rows = session.execute(scoped).all()
    return sorted(((str(k), int(n)) for k, n in rows), key=lambda r: (-r[1], r[0]))


def rfm_segments(
    session: Session, *, actor: Actor, filters: DashboardFilter
) -> list[tuple[str, int]]:
    """Customers per RFM segment (from the last run's metrics), largest first."""
    return _metric_counts(session, CustomerMetrics.rfm_segment, actor=actor, filters=filters)


def value_tiers(
    session: Session, *, actor: Actor, filters: DashboardFilter
) -> list[tuple[str, int]]:
    """Customers per value tier (A/B/C), in tier order."""
    counts = _metric_counts(session, CustomerMetrics.value_tier, actor=actor, filters=filters)
    return sorted(counts)


def clv_histogram(
    session: Session, *, actor: Actor, filters: DashboardFilter, bins: int = CLV_BINS
) -> list[dict[str, Any]]:
    """Customers by CLV band: ``bins`` equal-width bands from 0 to the 99th percentile, plus
    one open band above it, so that a few very large customers do not squash the chart.

    Counted in the database (three aggregate queries), not by fetching every value.
    """
    clv = CustomerMetrics.clv

    def scoped(stmt: Select) -> Select:
        stmt = stmt.where(clv.is_not(None))
        return _scoped(stmt, CustomerMetrics.customer_id, actor=actor, filters=filters)

    n, low = session.execute(scoped(select(func.count(), func.min(clv)))).one()
    if not n:
        return []
    top = session.scalar(scoped(select(clv)).order_by(clv).limit(1).offset(int(0.99 * (n - 1))))
    lo, top = min(0.0, float(low)), float(top)
    width = (top - lo) / bins if top > lo else 1.0
    band = case(
        (clv > top, bins),
        (clv >= lo + (bins - 1) * width, bins - 1),
        else_=cast((clv - lo) / width, Integer),
    )
    counts = dict(session.execute(scoped(select(band, func.count())).group_by(band)).all())
    out = [
        {
            "low": round(lo + i * width, 2),
            "high": round(lo + (i + 1) * width, 2),
            "customers": int(counts.get(i, 0)),
        }
        for i in range(bins)
    ]
    if counts.get(bins):
        out.append({"low": round(top, 2), "high": None, "customers": int(counts[bins])})
    return out


def at_risk_entries(
    session: Session,
    *,
    actor: Actor,
    filters: DashboardFilter,
    start: dt.date,
    end: dt.date,
    stages: tuple[str, ...] = AT_RISK_STAGES,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """Customers now in declining or churned who entered it within the period, newest first."""
    stmt = (
        select(
            Customer.id,
            Customer.name,
            Customer.owner,
            CustomerStage.stage,
            CustomerStage.stage_since,
            CustomerStage.previous_stage,
        )
        .join(CustomerStage, CustomerStage.customer_id == Customer.id)
        .where(
            CustomerStage.stage.in_(stages),
            and_(CustomerStage.stage_since >= start, CustomerStage.stage_since <= end),
        )
        .order_by(CustomerStage.stage_since.desc(), Customer.id)
        .limit(limit)
    )
    rows = session.execute(_scoped(stmt, Customer.id, actor=actor, filters=filters)).all()
    return [
        {
            "customer_id": r.id,
            "name": r.name,
            "owner": r.owner,
            "stage": r.stage,
            "stage_since": r.stage_since,
            "previous_stage": r.previous_stage,
        }
        for r in rows
    ]


def owner_options(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """Users who own at least one customer the actor may see: the owner filter's choices."""
    stmt = (
        select(User.id, User.name)
        .where(
            User.id.in_(
                select(Customer.owner_user_id)
                .where(visible_customers(actor), Customer.owner_user_id.is_not(None))
                .distinct()
            )
        )
        .order_by(User.name)
    )
    return [(int(i), n) for i, n in session.execute(stmt).all()]


def segment_options(session: Session) -> list[str]:
    """The RFM segments present in the last run: the segment filter's choices."""
    stmt = (
        select(CustomerMetrics.rfm_segment)
        .where(CustomerMetrics.rfm_segment.is_not(None))
        .distinct()
        .order_by(CustomerMetrics.rfm_segment)
    )
    return [str(s) for s in session.scalars(stmt)]


def cohort_matrix(session: Session) -> dict[str, Any] | None:
    """The last run's cohort retention as a matrix: ``cohorts`` x ``periods`` of shares.

    Accepts the long form of :func:`clm.analytics.value.cohorts.cohort_retention` (records
    with ``cohort_month``, ``period``, ``retention``), optionally wrapped in ``{"rows": ...}``.
    """
    found = latest_snapshot(session, "cohort_retention")
    if found is None:
        return None
    as_of, payload = found
    rows = payload.get("rows", payload.get("records")) if isinstance(payload, dict) else payload
    if not isinstance(rows, list) or not rows:
        return None
    cohorts = sorted({str(r["cohort_month"]) for r in rows})
    periods = sorted({int(r["period"]) for r in rows})
    sizes: dict[str, int] = {}
    cells = []
    for r in rows:
        c = str(r["cohort_month"])
        if r.get("cohort_size") is not None:
            sizes[c] = int(r["cohort_size"])
        value = r.get("retention")
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            continue
        cells.append([periods.index(int(r["period"])), cohorts.index(c), round(100 * value, 1)])
    return {
        "as_of": as_of,
        "cohorts": cohorts,
        "periods": periods,
        "cells": cells,
        "sizes": [sizes.get(c) for c in cohorts],
    }


def last_import(session: Session) -> dict[str, Any] | None:
    """The data-quality summary of the last import: per file read / imported / quarantined."""
    found = latest_snapshot(session, "import_report")
    if found is None:
        return None
    as_of, payload = found
    files = payload.get("files", []) if isinstance(payload, dict) else []
    return {
        "as_of": as_of,
        "import_id": payload.get("import_id") if isinstance(payload, dict) else None,
        "files": files,
        "read": sum(int(f.get("read", 0)) for f in files),
        "imported": sum(int(f.get("imported", 0)) for f in files),
        "quarantined": sum(int(f.get("quarantined", 0)) for f in files),
    }


def effectiveness_rows(
    session: Session, *, start: dt.date, end: dt.date, window_days: int = EFFECT_WINDOW_DAYS
) -> list[dict[str, Any]]:
    """Each stage strategy's headline measure over entries in the period, flags included.

    The measure follows spec section 5: the win-back rate for declining, the activation rate
    for new, the churn rate for the others (:mod:`clm.services.effectiveness`). Computed over
    all customers: a strategy is judged as a whole, not per owner.
    """
    report = strategy_effectiveness(session, start=start, end=end, window_days=window_days)
    rows = []
    for row in report.rows:
        for metric in ("win_back_rate", "activation_rate", "churn_rate"):
            value = getattr(row, metric)
            if value is None:
                continue
            rows.append({
                "stage": row.stage,
                "playbook_version_id": row.playbook_version_id,
                "metric": metric,
                "rate": value,
                "entries": row.entries,
                "observed": row.observed,
                "pending": row.pending,
                "flagged": metric in row.flags,
            })
            break
    return rows


def build_dashboard(session: Session, *, actor: Actor, filters: DashboardFilter) -> Dashboard:
    """Every figure of the dashboard for ``actor`` under ``filters``, as of the last run."""
    as_of = data_as_of(session)
    start, end = filters.period(as_of or dt.date(1970, 1, 1))
    board = Dashboard(as_of=as_of, start=start, end=end)
    if as_of is None:
        board.last_import = last_import(session)
        return board
    board.stage_counts = stage_counts(session, actor=actor, filters=filters)
    board.customers = sum(n for _s, n in board.stage_counts)
    board.flows = stage_flows(session, actor=actor, filters=filters, start=start, end=end)
    board.funnel = funnel(session, actor=actor, filters=filters, end=end)
    board.rfm_segments = rfm_segments(session, actor=actor, filters=filters)
    board.value_tiers = value_tiers(session, actor=actor, filters=filters)
    board.clv_histogram = clv_histogram(session, actor=actor, filters=filters)
    board.cohort_retention = cohort_matrix(session)
    recent = max(start, end - dt.timedelta(days=RECENT_DAYS))
    board.at_risk = at_risk_entries(session, actor=actor, filters=filters, start=recent, end=end)
    board.effectiveness = effectiveness_rows(session, start=start, end=end)
    board.last_import = last_import(session)
    return board
