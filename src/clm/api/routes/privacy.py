"""Privacy requests (PIPL / GDPR): erasure and the subject-access export."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from clm.api.deps import ActorDep, SessionDep, WarehouseDep
from clm.api.errors import responses
from clm.api.routes.params import CustomerId
from clm.api.schemas.consents import ErasureOut
from clm.services import consent as consent_service

router = APIRouter(prefix="/customers/{customer_id}", tags=["privacy"])


@router.post("/erasure", response_model=ErasureOut, responses=responses(403, 404))
def erase(
    customer_id: CustomerId, session: SessionDep, actor: ActorDep, warehouse: WarehouseDep
) -> ErasureOut:
    """Carry out an erasure request: anonymise the person, keep the statistics."""
    report = consent_service.erase_customer(
        session, actor=actor, customer_id=customer_id, warehouse=warehouse
    )
    return ErasureOut(**{**report.__dict__, "fields": list(report.fields)})


@router.get("/export", response_model=dict[str, Any], responses=responses(403, 404))
def export(customer_id: CustomerId, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Export everything held about one customer (subject access), unmasked and audited."""
    return consent_service.subject_access_export(session, actor=actor, customer_id=customer_id)
