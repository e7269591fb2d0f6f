"""Customers: the list, the basic card, the tracking record and the stage history."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from clm.api.deps import ActorDep, RunnerDep, SessionDep
from clm.api.errors import responses
from clm.api.routes.params import CustomerId
from clm.api.runner import Runner
from clm.api.schemas.common import MAX_ID, ShortText
from clm.api.schemas.customers import (
    CustomerCardOut,
    CustomerOut,
    CustomerPageOut,
    RecordOut,
    TransitionOut,
)
from clm.services import customers as customer_service
from clm.services.actors import Actor
from clm.services.customers import MAX_PAGE
from clm.services.record import record_json
from clm.services.users import customer_card

router = APIRouter(prefix="/customers", tags=["customers"])

Sort = Literal["id", "-id", "name", "-name", "stage", "-stage", "stage_since", "-stage_since"]
Unmask = Annotated[
    bool,
    Query(description="Show phone and e-mail unmasked (needs contacts:unmask; audited)"),
]


@router.get("", response_model=CustomerPageOut, responses=responses())
def list_customers(
    session: SessionDep,
    actor: ActorDep,
    stage: Annotated[ShortText | None, Query(description="Current stage")] = None,
    owner_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Owner's user id")] = None,
    tag: Annotated[ShortText | None, Query(description="Tag name")] = None,
    grey_zone: Annotated[bool | None, Query(description="Only (or no) grey-zone customers")] = None,
    q: Annotated[ShortText | None, Query(description="Part of the id or the name")] = None,
    sort: Annotated[Sort, Query(description="Sort column; '-' for descending")] = "id",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> CustomerPageOut:
    """List the customers you may see, filtered, searched, sorted and paged."""
    page = customer_service.search_customers(
        session,
        actor=actor,
        stage=stage,
        owner_user_id=owner_id,
        tag=tag,
        grey_zone=grey_zone,
        search=q,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return CustomerPageOut(
        items=[CustomerOut(**item) for item in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{customer_id}", response_model=CustomerCardOut, responses=responses(403, 404))
def get_customer(
    customer_id: CustomerId, session: SessionDep, actor: ActorDep, unmask: Unmask = False
) -> CustomerCardOut:
    """Show a customer's basic information, contacts masked unless asked and permitted."""
    return CustomerCardOut(
        **customer_card(session, actor=actor, customer_id=customer_id, unmask=unmask)
    )


@router.get("/{customer_id}/record", response_model=RecordOut, responses=responses(403, 404))
async def get_record(
    customer_id: CustomerId, run: RunnerDep, actor: ActorDep, unmask: Unmask = False
) -> Response:
    """Show the customer tracking record: stage, timeline, metrics, strategy, follow-ups."""
    return await read_record(run, actor, customer_id, unmask=unmask)


async def read_record(
    run: Runner, actor: Actor, customer_id: str, *, unmask: bool = False
) -> Response:
    """The tracking record's answer for a validated id: shared by the route and
    ``clm.api.hot``, which answers the plainest requests without the routing."""
    # The service's JSON already has RecordOut's shape (tests pin it): not validated again.
    # An unmasked read writes its audit row, so it is not a read for the runner.
    call = run.thread if unmask else run.read
    body = await call(record_json, actor=actor, customer_id=customer_id, unmask=unmask)
    return Response(body, media_type="application/json")


@router.get(
    "/{customer_id}/stages", response_model=list[TransitionOut], responses=responses(404)
)
def get_stage_history(
    customer_id: CustomerId, session: SessionDep, actor: ActorDep
) -> list[TransitionOut]:
    """List a customer's stage changes with their reasons, oldest first."""
    rows = customer_service.stage_history(session, actor=actor, customer_id=customer_id)
    return [TransitionOut(**row) for row in rows]
