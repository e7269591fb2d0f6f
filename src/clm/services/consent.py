"""Consent, erasure and subject access (PIPL arts. 14-15, 44-47; GDPR arts. 7, 15, 17).

Consent is an append-only history of events per customer, purpose and channel; the latest event
at or before a moment is the one in force, so "did we have consent on 1 March?" can always be
answered. Outbound messages and segment exports ask ``consenting`` for the whole audience at once.

Erasure anonymises the person and keeps the statistics: name becomes the marker ``[erased]``,
phone and e-mail become NULL, free text that may describe the person (follow-up summaries,
outcomes, plans, hand-written task titles) is replaced, open tasks are cancelled, and the PII
keys in the customer's audit rows are redacted. Stages, transitions, orders and counts stay, so
aggregates do not move. The analytics side is rewritten by ``erase_in_warehouse``. A constant
marker is used rather than a hash of the name: a hash could confirm a guessed name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clm.errors import InputError, UnsupportedError
from clm.services.actors import Actor
from clm.services.audit import as_dict, record, transaction
from clm.services.users import visible_customer
from clm.store.bulk import utcnow
from clm.store.tables import (
    CONSENT_STATUSES,
    AuditEntry,
    Consent,
    CustomerStage,
    CustomerTag,
    FollowUp,
    StageTransition,
    Tag,
    Task,
)
from clm.warehouse import Warehouse

PURPOSES: tuple[str, ...] = ("marketing", "service", "analytics")
CHANNELS: tuple[str, ...] = ("email", "sms", "phone", "wechat", "post")
PURPOSE_LABELS = {
    "marketing": {"en": "Marketing messages", "zh-CN": "营销信息"},
    "service": {"en": "Service messages", "zh-CN": "服务通知"},
    "analytics": {"en": "Analysis of usage", "zh-CN": "使用数据分析"},
}
CONSENT_CHANNEL_LABELS = {
    "email": {"en": "E-mail", "zh-CN": "邮件"},
    "sms": {"en": "SMS", "zh-CN": "短信"},
    "phone": {"en": "Phone", "zh-CN": "电话"},
    "wechat": {"en": "WeChat", "zh-CN": "微信"},
    "post": {"en": "Post", "zh-CN": "邮寄"},
}
ERASED = "[erased]"
PII_KEYS = ("name", "phone", "email", "summary", "outcome", "next_purpose", "title")
WAREHOUSE_PII = ("name", "phone", "email")


def _moment(as_of: date | datetime) -> datetime:
    """In UTC (SQLite keeps no offset); a date means the end of that day, so consent given
    that day counts."""
    if isinstance(as_of, datetime):
        return as_of.astimezone(UTC) if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    return datetime.combine(as_of, time.max, tzinfo=UTC)


def _check(purpose: str, channel: str) -> None:
    if purpose not in PURPOSES:
        raise InputError(
            f"purpose {purpose!r} is not one of {', '.join(PURPOSES)}", field="purpose"
        )
    if channel not in CHANNELS:
        raise InputError(
            f"channel {channel!r} is not one of {', '.join(CHANNELS)}", field="channel"
        )


def record_consent(
    session: Session,
    *,
    actor: Actor,
    customer_id: str,
    purpose: str,
    channel: str,
    status: str,
    at: datetime,
    source: str,
    now: datetime | None = None,
) -> Consent:
    """Record consent granted or withdrawn at ``at`` (when the customer said so) from ``source``
    (a form, a call, an unsubscribe link)."""
    actor.require("consents:manage")
    _check(purpose, channel)
    if status not in CONSENT_STATUSES:
        raise InputError(
            f"status {status!r} is not one of {', '.join(CONSENT_STATUSES)}", field="status"
        )
    if not source or not source.strip():
        raise InputError("a consent record needs its source", field="source")
    with transaction(session):
        visible_customer(session, actor, customer_id)
        row = Consent(
            customer_id=customer_id,
            purpose=purpose,
            channel=channel,
            status=status,
            at=_moment(at),
            source=source.strip(),
            recorded_by=actor.user_id,
        )
        session.add(row)
        session.flush()
        record(
            session,
            actor=actor,
            action="consent_" + status,
            entity="consent",
            entity_id=row.id,
            customer_id=customer_id,
            after={
                "purpose": purpose,
                "channel": channel,
                "status": status,
                "at": row.at,
                "source": row.source,
            },
            at=now,
        )
    return row


def consenting(
    session: Session,
    *,
    customer_ids: list[str] | None,
    purpose: str,
    channel: str,
    as_of: date | datetime,
) -> set[str]:
    """The customers (of ``customer_ids``, or all) whose consent was in force at ``as_of``.

    No record means no consent (opt-in, as PIPL and GDPR require for marketing).
    """
    _check(purpose, channel)
    stmt = (
        select(Consent.customer_id, Consent.status)
        .where(Consent.purpose == purpose, Consent.channel == channel, Consent.at <= _moment(as_of))
        .order_by(Consent.customer_id, Consent.at, Consent.id)
    )
    if customer_ids is not None:
        stmt = stmt.where(Consent.customer_id.in_(list(customer_ids)))
    frame = pd.DataFrame(session.execute(stmt).all(), columns=["customer_id", "status"])
    latest = frame.groupby("customer_id", sort=False).tail(1)
    return set(latest.loc[latest["status"] == "granted", "customer_id"])


def has_consent(
    session: Session, *, customer_id: str, purpose: str, channel: str, as_of: date | datetime
) -> bool:
    """Whether ``customer_id`` had consent for ``purpose`` over ``channel`` at ``as_of``."""
    return customer_id in consenting(
        session, customer_ids=[customer_id], purpose=purpose, channel=channel, as_of=as_of
    )


# -- erasure --------------------------------------------------------------------------------


@dataclass
class ErasureReport:
    customer_id: str
    follow_ups_redacted: int = 0
    tasks_redacted: int = 0
    tasks_cancelled: int = 0
    audit_rows_redacted: int = 0
    warehouse_rows: int | None = None
    fields: tuple[str, ...] = field(default=("name", "phone", "email"))


def _redact(text: str | None) -> tuple[str | None, bool]:
    if not text:
        return text, False
    data = json.loads(text)
    if not isinstance(data, dict):
        return text, False
    hit = False
    for key in PII_KEYS:
        if data.get(key) not in (None, ERASED):
            data[key], hit = ERASED, True
    return json.dumps(data, ensure_ascii=False), hit


def erase_customer(
    session: Session,
    *,
    actor: Actor,
    customer_id: str,
    warehouse: Warehouse | None = None,
    now: datetime | None = None,
) -> ErasureReport:
    """Carry out an erasure request in the store (and in ``warehouse`` when given).

    The store's changes commit together; the warehouse is rewritten after that commit, since it
    is another database; rerunning the erasure is harmless if that step fails.
    """
    actor.require("privacy:erase")
    now = now or utcnow()
    report = ErasureReport(customer_id=customer_id)
    with transaction(session):
        customer = visible_customer(session, actor, customer_id)
        before_erased = customer.erased
        customer.name, customer.phone, customer.email = ERASED, None, None
        customer.erased, customer.erased_at = True, customer.erased_at or now
        report.follow_ups_redacted = (
            session.execute(
                update(FollowUp)
                .where(FollowUp.customer_id == customer_id)
                .values(summary=ERASED, outcome=None, next_purpose=None)
            ).rowcount
            or 0
        )
        report.tasks_redacted = (
            session.execute(
                update(Task)
                .where(Task.customer_id == customer_id, Task.origin != "playbook")
                .values(title=ERASED, title_zh=None)
            ).rowcount
            or 0
        )
        report.tasks_cancelled = (
            session.execute(
                update(Task)
                .where(Task.customer_id == customer_id, Task.status == "open")
                .values(status="cancelled", closed_at=now, version=Task.version + 1)
            ).rowcount
            or 0
        )
        for entry in session.scalars(
            select(AuditEntry).where(AuditEntry.customer_id == customer_id)
        ):
            entry.before, hit_before = _redact(entry.before)
            entry.after, hit_after = _redact(entry.after)
            report.audit_rows_redacted += int(hit_before or hit_after)
        session.flush()
        record(
            session,
            actor=actor,
            action="erase",
            entity="customer",
            entity_id=customer_id,
            customer_id=customer_id,
            before={"erased": before_erased},
            after={
                "erased": True,
                "fields": list(report.fields),
                "tasks_cancelled": report.tasks_cancelled,
            },
            at=now,
        )
    if warehouse is not None:
        report.warehouse_rows = erase_in_warehouse(warehouse, customer_id)
    return report


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def erase_in_warehouse(warehouse: Warehouse, customer_id: str) -> int:
    """Rewrite the customer's PII columns in the warehouse's ``customers`` table.

    Name becomes ``[erased]``; phone and e-mail NULL; everything else (industry, channel,
    dates, and all orders and events) stays, so aggregates are unchanged. Returns the number
    of rows rewritten. SQL backends get one UPDATE; others are refused loudly.
    """
    if not warehouse.has_table("customers"):
        return 0
    t = warehouse.table("customers")
    rows = int(t.filter(t.customer_id == customer_id).count().execute())
    if rows == 0:
        return 0
    backend = warehouse.backend_name
    if backend not in ("duckdb", "postgres", "sqlite"):
        raise UnsupportedError(
            f"erasure in a {backend} warehouse is not supported; erase the "
            "customer at the source and re-import",
            backend=backend,
        )
    name = f'"{warehouse.database}"."customers"' if warehouse.database else '"customers"'
    sql = (
        f"UPDATE {name} SET name = {_quote(ERASED)}, phone = NULL, email = NULL "
        f"WHERE customer_id = {_quote(customer_id)}"
    )
    result = warehouse.con.raw_sql(sql)
    if backend in ("postgres", "sqlite"):  # a cursor; DuckDB hands back the connection itself
        result.close()
    if backend == "sqlite" and warehouse.con.con.in_transaction:
        warehouse.con.con.commit()
    return rows


# -- subject access -------------------------------------------------------------------------


def _plain(row: Any) -> dict[str, Any]:
    out = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        out[column.key] = value.isoformat() if isinstance(value, date | datetime) else value
    return out


def subject_access_export(
    session: Session, *, actor: Actor, customer_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the store holds about one customer, as JSON-ready data, unmasked.

    Needs ``privacy:export``; the export itself is audited.
    """
    actor.require("privacy:export")
    now = now or utcnow()
    with transaction(session):
        customer = visible_customer(session, actor, customer_id)
        by_customer = {
            "transitions": select(StageTransition)
            .where(StageTransition.customer_id == customer_id)
            .order_by(StageTransition.changed_on, StageTransition.id),
            "tasks": select(Task).where(Task.customer_id == customer_id).order_by(Task.id),
            "follow_ups": select(FollowUp)
            .where(FollowUp.customer_id == customer_id)
            .order_by(FollowUp.id),
            "consents": select(Consent)
            .where(Consent.customer_id == customer_id)
            .order_by(Consent.at, Consent.id),
        }
        stage = session.get(CustomerStage, customer_id)
        export: dict[str, Any] = {
            "generated_at": now.isoformat(),
            "customer": _plain(customer),
            "stage": _plain(stage) if stage else None,
            **{
                key: [_plain(r) for r in session.scalars(stmt)] for key, stmt in by_customer.items()
            },
            "tags": [
                {
                    "tag": tag.name,
                    "label_en": tag.label_en,
                    "label_zh": tag.label_zh,
                    "source": link.source,
                    "tagged_at": link.tagged_at.isoformat(),
                }
                for link, tag in session.execute(
                    select(CustomerTag, Tag)
                    .join(Tag, Tag.id == CustomerTag.tag_id)
                    .where(CustomerTag.customer_id == customer_id)
                )
            ],
            "audit": [
                as_dict(e)
                for e in session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.customer_id == customer_id)
                    .order_by(AuditEntry.id)
                )
            ],
        }
        record(
            session,
            actor=actor,
            action="subject_access_export",
            entity="customer",
            entity_id=customer_id,
            customer_id=customer_id,
            after={"sections": [k for k in export if k != "generated_at"]},
            at=now,
        )
    return export
