"""Follow-ups: what happened with a customer, and the next plan, which becomes the next task.

A follow-up (date, channel, summary, outcome) and its next plan (date and purpose) are one unit:
the follow-up row, the next task, the completion of the task it answers and their audit rows
are written in one transaction, so a follow-up whose next task cannot be created is not saved
either (issue 4, "Bad input").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clm.errors import InputError
from clm.services import tasks as task_service
from clm.services.actors import Actor
from clm.services.audit import record, transaction
from clm.services.users import visible_customer
from clm.store.bulk import utcnow
from clm.store.tables import FOLLOW_UP_CHANNELS, FollowUp, Task

CHANNEL_LABELS: dict[str, dict[str, str]] = {
    "phone": {"en": "Phone", "zh-CN": "电话"},
    "email": {"en": "E-mail", "zh-CN": "邮件"},
    "visit": {"en": "Visit", "zh-CN": "拜访"},
    "wechat": {"en": "WeChat", "zh-CN": "微信"},
    "meeting": {"en": "Meeting", "zh-CN": "会议"},
}
MAX_SUMMARY = 10_000


@dataclass(frozen=True)
class FollowUpResult:
    follow_up: FollowUp
    next_task: Task | None
    completed_task: Task | None


def follow_up_snapshot(row: FollowUp) -> dict[str, Any]:
    return {
        "customer_id": row.customer_id,
        "occurred_on": row.occurred_on,
        "channel": row.channel,
        "summary": row.summary,
        "outcome": row.outcome,
        "next_date": row.next_date,
        "next_purpose": row.next_purpose,
        "next_task_id": row.next_task_id,
        "task_id": row.task_id,
    }


def _validate(
    channel: str, summary: str, occurred_on: date, next_date: date | None, next_purpose: str | None
) -> None:
    if channel not in FOLLOW_UP_CHANNELS:
        raise InputError(
            f"channel {channel!r} is not one of {', '.join(FOLLOW_UP_CHANNELS)}", field="channel"
        )
    if not summary or not summary.strip():
        raise InputError("a follow-up needs a summary of what was agreed", field="summary")
    if len(summary) > MAX_SUMMARY:
        raise InputError(f"summary is longer than {MAX_SUMMARY} characters", field="summary")
    if (next_date is None) != (not next_purpose or not next_purpose.strip()):
        field = "next_purpose" if next_date is not None else "next_date"
        raise InputError("the next plan needs both a date and a purpose", field=field)
    if next_date is not None and next_date < occurred_on:
        raise InputError(
            f"next date {next_date} is before the follow-up date {occurred_on}", field="next_date"
        )


def record_follow_up(
    session: Session,
    *,
    actor: Actor,
    customer_id: str,
    occurred_on: date,
    channel: str,
    summary: str,
    outcome: str | None = None,
    next_date: date | None = None,
    next_purpose: str | None = None,
    task_id: int | None = None,
    assignee_id: int | None = None,
    now: datetime | None = None,
) -> FollowUpResult:
    """Record a follow-up; its next plan opens the next task; ``task_id`` (the task this
    follow-up carried out) is completed. All or nothing.

    The next task goes to ``assignee_id``, else the acting user, else the customer's owner.
    """
    actor.require("followups:write")
    _validate(channel, summary, occurred_on, next_date, next_purpose)
    now = now or utcnow()
    with transaction(session):
        customer = visible_customer(session, actor, customer_id)
        if customer.erased:
            raise InputError(f"customer {customer_id!r} was erased", field="customer_id")
        if task_id is not None:
            done = session.scalar(select(Task).where(Task.id == task_id))
            if done is None or done.customer_id != customer_id:
                raise InputError(
                    f"task {task_id} is not a task of customer {customer_id!r}", field="task_id"
                )
        row = FollowUp(
            customer_id=customer_id,
            occurred_on=occurred_on,
            channel=channel,
            summary=summary.strip(),
            outcome=outcome,
            next_date=next_date,
            next_purpose=next_purpose.strip() if next_purpose else None,
            task_id=task_id,
            recorded_by=actor.user_id,
            created_at=now,
        )
        session.add(row)
        session.flush()
        next_task = None
        if next_date is not None and next_purpose:
            next_task = task_service.create_task(
                session,
                actor=actor,
                customer_id=customer_id,
                title=next_purpose.strip(),
                due_on=next_date,
                kind="follow_up",
                origin="follow_up",
                assignee_id=assignee_id or actor.user_id or customer.owner_user_id,
                now=now,
            )
            row.next_task_id = next_task.id
            session.flush()
        completed = None
        if task_id is not None:
            completed = task_service.complete_task(session, actor=actor, task_id=task_id, now=now)
        record(
            session,
            actor=actor,
            action="create",
            entity="follow_up",
            entity_id=row.id,
            customer_id=customer_id,
            after=follow_up_snapshot(row),
            at=now,
        )
    return FollowUpResult(follow_up=row, next_task=next_task, completed_task=completed)


def follow_ups(session: Session, *, actor: Actor, customer_id: str) -> list[FollowUp]:
    """A visible customer's follow-ups, newest first."""
    with transaction(session):
        visible_customer(session, actor, customer_id)
        return list(
            session.scalars(
                select(FollowUp)
                .where(FollowUp.customer_id == customer_id)
                .order_by(FollowUp.occurred_on.desc(), FollowUp.id.desc())
            )
        )
