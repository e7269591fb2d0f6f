"""The audit log (admin and manager): every write and every unmasked read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clm.api.deps import ActorDep, SessionDep
from clm.api.errors import responses
from clm.api.schemas.consents import AuditOut
from clm.services import audit as audit_service

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditOut], responses=responses(403))
def list_audit(
    session: SessionDep,
    actor: ActorDep,
    customer_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    entity: Annotated[
        str | None, Query(min_length=1, max_length=64, description="user, task, customer, ...")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """List the newest audit entries, optionally about one customer or kind of entity."""
    rows = audit_service.entries(
        session, actor=actor, customer_id=customer_id, entity=entity, limit=limit
    )
    return [AuditOut(**audit_service.as_dict(r)) for r in rows]
