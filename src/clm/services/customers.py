"""Finding customers: filtered, searched, sorted and paged lists, stage history, consent history.

The read side the API and the web app share. Every query goes through
``users.visible_customers`` so a user sees their own customers unless their role grants
``customers:all``; contacts in lists are always masked (the tracking record is the one place
that unmasks, and audits it). A customer another user owns answers "does not exist", exactly
like an unknown id, so ids cannot be probed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from clm.errors import InputError
from clm.services.actors import Actor
from clm.services.audit import transaction
from clm.services.users import mask_email, mask_phone, visible_customer, visible_customers
from clm.store.tables import (
    Consent,
    Customer,
    CustomerMetrics,
    CustomerStage,
    CustomerTag,
    StageTransition,
    Tag,
)

MAX_PAGE = 500
SORTS: dict[str, tuple[Any, ...]] = {
    "id": (Customer.id.asc(),),
    "-id": (Customer.id.desc(),),
    "name": (Customer.name.asc(), Customer.id.asc()),
    "-name": (Customer.name.desc(), Customer.id.asc()),
    "stage": (CustomerStage.stage.asc(), Customer.id.asc()),
    "-stage": (CustomerStage.stage.desc(), Customer.id.asc()),
    "stage_since": (CustomerStage.stage_since.asc(), Customer.id.asc()),
    "-stage_since": (CustomerStage.stage_since.desc(), Customer.id.asc()),
}


@dataclass(frozen=True)
class CustomerPage:
    """One page of a customer list and the number of customers matching the filter."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


def _reasons(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return [text]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _filtered(
    stmt: Select,
    *,
    actor: Actor,
    stage: str | None,
    owner_user_id: int | None,
    tag: str | None,
    grey_zone: bool | None,
    search: str | None,
    segment: str | None = None,
    value_tier: str | None = None,
) -> Select:
    stmt = stmt.where(visible_customers(actor))
    if segment is not None or value_tier is not None:
        metric = select(CustomerMetrics.customer_id).where(
            CustomerMetrics.customer_id == Customer.id
        )
        if segment is not None:
            metric = metric.where(CustomerMetrics.rfm_segment == segment)
        if value_tier is not None:
            metric = metric.where(CustomerMetrics.value_tier == value_tier)
        stmt = stmt.where(exists(metric))
    if stage is not None:
        stmt = stmt.where(CustomerStage.stage == stage)
    if owner_user_id is not None:
        stmt = stmt.where(Customer.owner_user_id == owner_user_id)
    if grey_zone is not None:
        stmt = stmt.where(CustomerStage.grey_zone.is_(grey_zone))
    if tag is not None:
        stmt = stmt.where(
            exists(
                select(CustomerTag.customer_id)
                .join(Tag, Tag.id == CustomerTag.tag_id)
                .where(CustomerTag.customer_id == Customer.id, Tag.name == tag)
            )
        )
    if search:
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            Customer.id.ilike(like, escape="\\") | Customer.name.ilike(like, escape="\\")
        )
    return stmt


def search_customers(
    session: Session,
    *,
    actor: Actor,
    stage: str | None = None,
    owner_user_id: int | None = None,
    tag: str | None = None,
    grey_zone: bool | None = None,
    search: str | None = None,
    segment: str | None = None,
    value_tier: str | None = None,
    sort: str = "id",
    limit: int = 50,
    offset: int = 0,
) -> CustomerPage:
    """The customers the actor may see that match every given filter, one page of them.

    ``search`` matches part of the id or the name, case-insensitively, with ``%`` and ``_``
    taken literally. ``sort`` is a column name, ``-`` in front for descending; ties are broken
    by id so pages never overlap.
    """
    if sort not in SORTS:
        raise InputError(f"sort {sort!r} is not one of {', '.join(SORTS)}", field="sort")
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit must be between 1 and {MAX_PAGE}, not {limit}", field="limit")
    if offset < 0:
        raise InputError(f"offset must be >= 0, not {offset}", field="offset")
    filters = {
        "actor": actor,
        "stage": stage,
        "owner_user_id": owner_user_id,
        "tag": tag,
        "grey_zone": grey_zone,
        "search": search,
        "segment": segment,
        "value_tier": value_tier,
    }
    base = select(Customer, CustomerStage).outerjoin(
        CustomerStage, CustomerStage.customer_id == Customer.id
    )
    counted = select(func.count()).select_from(Customer)
    counted = counted.outerjoin(CustomerStage, CustomerStage.customer_id == Customer.id)
    with transaction(session):
        total = session.scalar(_filtered(counted, **filters)) or 0
        rows = session.execute(
            _filtered(base, **filters).order_by(*SORTS[sort]).limit(limit).offset(offset)
        ).all()
    return CustomerPage(
        items=[_row(c, s) for c, s in rows], total=int(total), limit=limit, offset=offset
    )


def _row(customer: Customer, stage: CustomerStage | None) -> dict[str, Any]:
    return {
        "customer_id": customer.id,
        "name": customer.name,
        "industry": customer.industry,
        "owner": customer.owner,
        "owner_user_id": customer.owner_user_id,
        "phone": mask_phone(customer.phone),
        "email": mask_email(customer.email),
        "erased": customer.erased,
        "stage": stage.stage if stage else None,
        "stage_since": stage.stage_since if stage else None,
        "grey_zone": bool(stage.grey_zone) if stage else False,
    }


def transition_rows(session: Session, customer_id: str) -> list[dict[str, Any]]:
    """A customer's stage transitions, oldest first, reasons parsed (no visibility check)."""
    rows = session.scalars(
        select(StageTransition)
        .where(StageTransition.customer_id == customer_id)
        .order_by(StageTransition.changed_on, StageTransition.id)
    )
    return [
        {
            "changed_on": t.changed_on,
            "from_stage": t.from_stage,
            "to_stage": t.to_stage,
            "reasons": _reasons(t.reasons),
            "model_version": t.model_version,
            "run_id": t.run_id,
        }
        for t in rows
    ]


def stage_history(session: Session, *, actor: Actor, customer_id: str) -> list[dict[str, Any]]:
    """Every stage change of a visible customer with its reasons, oldest first."""
    with transaction(session):
        visible_customer(session, actor, customer_id)
        return transition_rows(session, customer_id)


@dataclass(frozen=True)
class ConsentState:
    """The consent events of one customer and, per purpose and channel, the one in force."""

    events: list[Consent]
    in_force: list[Consent]


def consent_history(session: Session, *, actor: Actor, customer_id: str) -> ConsentState:
    """A visible customer's consent events, oldest first, and the latest per purpose/channel."""
    with transaction(session):
        visible_customer(session, actor, customer_id)
        events = list(
            session.scalars(
                select(Consent)
                .where(Consent.customer_id == customer_id)
                .order_by(Consent.at, Consent.id)
            )
        )
    latest: dict[tuple[str, str], Consent] = {}
    for event in events:
        latest[(event.purpose, event.channel)] = event
    return ConsentState(events=events, in_force=sorted(latest.values(), key=lambda c: c.id))
