"""The audit trail, and the transaction every service runs in.

Every write, and every read of unmasked contact data, leaves one ``audit_log`` row: who (a user
or an automated run with its model version), when, what (action, entity, id, the customer it
concerns) and the state before and after as JSON. The row is written in the same transaction
as the change it describes, so an audit trail can never claim a write that was rolled back, nor
miss one that was kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from clm.services.actors import Actor
from clm.store.bulk import insert_arrow, insert_frame, utcnow
from clm.store.tables import AuditEntry

_DEPTH = "clm_service_depth"
_ROW_COLUMNS = ("action", "entity", "entity_id", "customer_id", "before", "after")


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Run a service's writes atomically: all of them commit, or none.

    The outermost ``transaction`` on a session commits on success and rolls back on error,
    joining a transaction the session may have auto-begun for earlier reads (so those reads
    never leave a service's writes uncommitted). Services called inside another service, or
    inside a caller's own ``with transaction(session):`` block, join that unit and leave the
    commit to it: a follow-up and its next task, or several services a caller groups, succeed
    or fail together.
    """
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        if depth:
            yield session
            return
        if not session.in_transaction():
            session.begin()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()
    finally:
        session.info[_DEPTH] = depth


def to_json(value: Mapping[str, Any] | None) -> str | None:
    """Serialise a before/after state; dates ISO, keys in insertion order, Chinese kept."""
    if value is None:
        return None
    return json.dumps(dict(value), default=_default, ensure_ascii=False)


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: object = None,
    customer_id: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Add one audit row to the session's transaction (the caller's service commits it)."""
    entry = AuditEntry(
        at=at or utcnow(),
        actor_user_id=actor.user_id,
        actor_run_id=actor.run_id,
        model_version=actor.model_version,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        customer_id=customer_id,
        before=to_json(before),
        after=to_json(after),
    )
    session.add(entry)
    session.flush()
    return entry


def record_many(
    session: Session, *, actor: Actor, rows: pd.DataFrame | pa.Table, at: datetime
) -> int:
    """Bulk-write audit rows for set-based services (the stage sync, tags, segments).

    ``rows`` (pandas, or Arrow for the sync's million rows) has ``action``, ``entity``,
    ``entity_id``, ``customer_id``, ``before`` and ``after`` (JSON text or None); actor and time
    are the same for every row.
    """
    if isinstance(rows, pa.Table):
        return insert_arrow(
            session,
            AuditEntry.__table__,
            rows.select(list(_ROW_COLUMNS)),
            constants={
                "at": at,
                "actor_user_id": actor.user_id,
                "actor_run_id": actor.run_id,
                "model_version": actor.model_version,
            },
        )
    if rows.empty:
        return 0
    frame = rows[list(_ROW_COLUMNS)].copy()
    frame.insert(0, "at", at)
    frame.insert(1, "actor_user_id", actor.user_id)
    frame.insert(2, "actor_run_id", actor.run_id)
    frame.insert(3, "model_version", actor.model_version)
    return insert_frame(session, AuditEntry.__table__, frame)


def entries(
    session: Session,
    *,
    actor: Actor,
    customer_id: str | None = None,
    entity: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The newest audit rows, optionally about one customer or one kind of entity."""
    actor.require("audit:read")
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if customer_id is not None:
        stmt = stmt.where(AuditEntry.customer_id == customer_id)
    if entity is not None:
        stmt = stmt.where(AuditEntry.entity == entity)
    return list(session.scalars(stmt))


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    """An audit row as plain JSON-ready data (before/after parsed)."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor_user_id": entry.actor_user_id,
        "actor_run_id": entry.actor_run_id,
        "model_version": entry.model_version,
        "action": entry.action,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "customer_id": entry.customer_id,
        "before": json.loads(entry.before) if entry.before else None,
        "after": json.loads(entry.after) if entry.after else None,
    }
