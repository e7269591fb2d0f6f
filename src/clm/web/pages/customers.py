"""The customer list and the customer tracking record, with follow-ups and tags logged there."""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from clm.errors import ClmError
from clm.services import customers as customer_service
from clm.services.dashboard import owner_options, segment_options
from clm.services.followups import CHANNEL_LABELS, record_follow_up
from clm.services.record import tracking_record
from clm.store.tables import FOLLOW_UP_CHANNELS
from clm.web.context import CsrfDep, DbDep, UserDep, parse_date, redirect, render
from clm.web.labels import segment_label, stage_label, tier_label

router = APIRouter()
PAGE_SIZE = 50
SORTABLE = ("id", "name", "stage", "stage_since")
TIERS = ("A", "B", "C")


def _flag(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


def _supported(**filters: object) -> dict[str, object]:
    """Pass only the filters the customer service knows (segment and value tier are newer)."""
    accepted = inspect.signature(customer_service.search_customers).parameters
    return {k: v for k, v in filters.items() if k in accepted}


@router.get("/customers")
def customer_list(
    request: Request,
    session: DbDep,
    user: UserDep,
    stage: str | None = None,
    owner: str | None = None,
    tag: str | None = None,
    segment: str | None = None,
    tier: str | None = None,
    grey: str | None = None,
    q: str | None = None,
    sort: str = "id",
    page: int = 1,
) -> Response:
    """List customers, filtered, sorted and paged in the database."""
    page = max(1, page)
    owner_id = int(owner) if owner and owner.isdigit() else None
    result = customer_service.search_customers(
        session,
        actor=user.actor,
        sort=sort if sort.lstrip("-") in SORTABLE else "id",
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
        **_supported(
            stage=stage or None,
            owner_user_id=owner_id,
            tag=tag or None,
            segment=segment or None,
            value_tier=tier or None,
            grey_zone=_flag(grey),
            search=q or None,
        ),
    )
    asked = {"segment": segment, "value_tier": tier}
    ignored = [k for k, v in asked.items() if v and k not in _supported(**asked)]
    pages = max(1, -(-result.total // PAGE_SIZE))
    params = {
        "stage": stage or "", "owner": owner or "", "tag": tag or "", "segment": segment or "",
        "tier": tier or "", "grey": grey or "", "q": q or "", "sort": sort,
    }
    context = dict(
        user=user,
        result=result,
        page=page,
        pages=pages,
        params=params,
        sort=sort,
        ignored=ignored,
        stage_label=stage_label,
        segment_label=segment_label,
        tier_label=tier_label,
    )
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "results":
        return render(request, "_customer_rows.html", **context)
    return render(
        request,
        "customers.html",
        owners=owner_options(session, actor=user.actor),
        segments=segment_options(session),
        stages=_stages(session),
        tiers=TIERS,
        **context,
    )


def _stages(session) -> list[str]:
    from sqlalchemy import select

    from clm.store.tables import CustomerStage

    return sorted(s for s in session.scalars(select(CustomerStage.stage).distinct()) if s)


@router.get("/customers/{customer_id}")
def customer_record(
    request: Request, session: DbDep, user: UserDep, customer_id: str, unmask: bool = False
) -> Response:
    """Show the customer's tracking record (spec section 4)."""
    record = tracking_record(
        session, actor=user.actor, customer_id=customer_id, unmask=unmask and user.can(
            "contacts:unmask")
    )
    return _record_page(request, user, record)


def _record_page(request, user, record, *, error: str | None = None, saved: str | None = None,
                 form: dict | None = None, status_code: int = 200) -> Response:
    return render(
        request,
        "customer.html",
        user=user,
        r=record,
        error=error,
        saved=saved or request.query_params.get("saved"),
        form=form or {},
        channels=[(c, CHANNEL_LABELS[c]) for c in FOLLOW_UP_CHANNELS],
        today=dt.date.today(),
        stage_label=stage_label,
        segment_label=segment_label,
        tier_label=tier_label,
        status_code=status_code,
    )


@router.post("/customers/{customer_id}/follow-ups", dependencies=[CsrfDep])
def log_follow_up(
    request: Request,
    session: DbDep,
    user: UserDep,
    customer_id: str,
    occurred_on: Annotated[str, Form()],
    channel: Annotated[str, Form()],
    summary: Annotated[str, Form()] = "",
    outcome: Annotated[str, Form()] = "",
    next_date: Annotated[str, Form()] = "",
    next_purpose: Annotated[str, Form()] = "",
    task_id: Annotated[str, Form()] = "",
) -> Response:
    """Record a follow-up and its next plan (which becomes the next task)."""
    form = {
        "occurred_on": occurred_on, "channel": channel, "summary": summary, "outcome": outcome,
        "next_date": next_date, "next_purpose": next_purpose, "task_id": task_id,
    }
    try:
        record_follow_up(
            session,
            actor=user.actor,
            customer_id=customer_id,
            occurred_on=parse_date(occurred_on, field="occurred_on") or dt.date.today(),
            channel=channel,
            summary=summary,
            outcome=outcome or None,
            next_date=parse_date(next_date, field="next_date"),
            next_purpose=next_purpose or None,
            task_id=int(task_id) if task_id.isdigit() else None,
        )
    except ClmError as exc:
        session.rollback()
        record = tracking_record(session, actor=user.actor, customer_id=customer_id)
        field = exc.context.get("field")
        message = f"{field}: {exc.message}" if field else exc.message
        return _record_page(request, user, record, error=message, form=form, status_code=422)
    return redirect(f"/customers/{customer_id}?saved=follow_up#follow-ups")


@router.post("/customers/{customer_id}/tags", dependencies=[CsrfDep])
def add_tag(
    request: Request,
    session: DbDep,
    user: UserDep,
    customer_id: str,
    tag: Annotated[str, Form()],
) -> Response:
    """Add a manual tag to the customer."""
    from clm.services import tags as tag_service

    try:
        tag_service.tag_customer(
            session, actor=user.actor, customer_id=customer_id, tag=tag.strip()
        )
    except ClmError as exc:
        session.rollback()
        record = tracking_record(session, actor=user.actor, customer_id=customer_id)
        return _record_page(request, user, record, error=exc.message, status_code=422)
    return redirect(f"/customers/{customer_id}?saved=tag#tags")
