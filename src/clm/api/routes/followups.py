"""Follow-ups on a customer: the log, and recording one with its next plan."""

from __future__ import annotations

from fastapi import APIRouter

from clm.api.deps import ActorDep, SessionDep
from clm.api.errors import responses
from clm.api.routes.convert import follow_up_out, follow_up_result_out
from clm.api.routes.params import CustomerId
from clm.api.schemas.followups import FollowUpCreate, FollowUpOut, FollowUpResultOut
from clm.services import followups as follow_up_service

router = APIRouter(prefix="/customers/{customer_id}/follow-ups", tags=["follow-ups"])


@router.get("", response_model=list[FollowUpOut], responses=responses(404))
def list_follow_ups(
    customer_id: CustomerId, session: SessionDep, actor: ActorDep
) -> list[FollowUpOut]:
    """List a customer's follow-ups, newest first."""
    rows = follow_up_service.follow_ups(session, actor=actor, customer_id=customer_id)
    return [follow_up_out(r) for r in rows]


@router.post(
    "",
    response_model=FollowUpResultOut,
    status_code=201,
    responses=responses(403, 404, 409),
)
def create_follow_up(
    customer_id: CustomerId, body: FollowUpCreate, session: SessionDep, actor: ActorDep
) -> FollowUpResultOut:
    """Record a follow-up; its next plan opens the next task (all or nothing)."""
    result = follow_up_service.record_follow_up(
        session, actor=actor, customer_id=customer_id, **body.model_dump()
    )
    return follow_up_result_out(result)
