"""Consent per purpose and channel: the history of a customer, and recording an event."""

from __future__ import annotations

from fastapi import APIRouter

from clm.api.deps import ActorDep, SessionDep
from clm.api.errors import responses
from clm.api.routes.params import CustomerId
from clm.api.schemas.consents import ConsentCreate, ConsentOut, ConsentStateOut
from clm.services import consent as consent_service
from clm.services.customers import consent_history

router = APIRouter(prefix="/customers/{customer_id}/consents", tags=["consents"])


@router.get("", response_model=ConsentStateOut, responses=responses(404))
def list_consents(customer_id: CustomerId, session: SessionDep, actor: ActorDep) -> ConsentStateOut:
    """List a customer's consent events and the ones in force."""
    state = consent_history(session, actor=actor, customer_id=customer_id)
    return ConsentStateOut(
        in_force=[ConsentOut.model_validate(c, from_attributes=True) for c in state.in_force],
        events=[ConsentOut.model_validate(c, from_attributes=True) for c in state.events],
    )


@router.post("", response_model=ConsentOut, status_code=201, responses=responses(403, 404))
def record_consent(
    customer_id: CustomerId, body: ConsentCreate, session: SessionDep, actor: ActorDep
) -> ConsentOut:
    """Record consent granted or withdrawn, with when and where the customer said so."""
    row = consent_service.record_consent(
        session, actor=actor, customer_id=customer_id, **body.model_dump()
    )
    return ConsentOut.model_validate(row, from_attributes=True)
