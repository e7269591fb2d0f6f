"""The dashboard page: the charts a manager reads, filtered by owner, segment and period."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clm.services.dashboard import (
    Dashboard,
    DashboardFilter,
    build_dashboard,
    owner_options,
    segment_options,
)
from clm.services.effectiveness import label as effectiveness_label
from clm.web.context import DbDep, UserDep, parse_date, render, request_locale
from clm.web.labels import customers_url, segment_label, stage_label, tier_label

router = APIRouter()


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def chart_data(board: Dashboard, filters: DashboardFilter, locale: str) -> dict[str, Any]:
    """The dashboard as ECharts-ready lists (labels translated, links attached).

    Lists, not dicts, wherever order matters: Jinja's ``tojson`` sorts dict keys.
    """
    scope = {"owner": filters.owner_id, "segment": filters.segment}
    flows = []
    for f in board.flows:
        # a Sankey needs distinct nodes on each side: the target's name ends in a thin space
        source = stage_label(f["from"], locale)
        flows.append([source, stage_label(f["to"], locale) + "\u2009", f["customers"]])
    clv = [
        [
            f"{b['low']:,.0f}–{b['high']:,.0f}" if b["high"] is not None else f"≥ {b['low']:,.0f}",
            b["customers"],
        ]
        for b in board.clv_histogram
    ]
    return {
        "stages": [
            [stage_label(s, locale), n, customers_url(stage=s, **scope)]
            for s, n in board.stage_counts
        ],
        "flows": flows,
        "funnel": [
            [stage_label(s, locale), n, customers_url(stage=s, **scope)] for s, n in board.funnel
        ],
        "rfm": [
            [segment_label(s, locale), n, customers_url(segment=s, owner=filters.owner_id)]
            for s, n in board.rfm_segments
        ],
        "tiers": [
            [tier_label(s, locale), n, customers_url(tier=s, **scope)] for s, n in board.value_tiers
        ],
        "clv": clv,
        "cohorts": (
            {**board.cohort_retention, "as_of": board.cohort_retention["as_of"].isoformat()}
            if board.cohort_retention
            else None
        ),
    }


@router.get("/dashboard")
def dashboard_page(
    request: Request,
    session: DbDep,
    user: UserDep,
    owner: str | None = None,
    segment: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> Response:
    """Show the lifecycle dashboard."""
    filters = DashboardFilter(
        owner_id=_int(owner),
        segment=segment or None,
        start=parse_date(start, field="start"),
        end=parse_date(end, field="end"),
    )
    board = build_dashboard(session, actor=user.actor, filters=filters)
    locale = request_locale(request)
    return render(
        request,
        "dashboard.html",
        user=user,
        board=board,
        filters=filters,
        owners=owner_options(session, actor=user.actor),
        segments=segment_options(session),
        charts=chart_data(board, filters, locale),
        effectiveness=_effectiveness(board, locale),
        stage_label=stage_label,
        segment_label=segment_label,
        customers_url=customers_url,
    )


def _effectiveness(board: Dashboard, locale: str) -> list[dict[str, Any]]:
    """Effectiveness rows with their measure named and formatted for the reader."""
    return [
        {
            **row,
            "label": effectiveness_label(f"effectiveness.{row['metric']}", locale),
            "rate_text": "-" if row["rate"] is None else f"{100 * row['rate']:.1f}%",
        }
        for row in board.effectiveness
    ]
