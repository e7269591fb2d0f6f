"""Tags: the list, defining one, and putting a manual tag on or off a customer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from clm.api.deps import ActorDep, SessionDep
from clm.api.errors import responses
from clm.api.routes.params import CustomerId
from clm.api.schemas.tags import TagCreate, TaggedOut, TagInfoOut
from clm.services import tags as tag_service

router = APIRouter(tags=["tags"])
TagPath = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_-]{0,99}$")]


@router.get("/tags", response_model=list[TagInfoOut], responses=responses())
def list_tags(session: SessionDep, actor: ActorDep) -> list[TagInfoOut]:
    """List every tag with its number of customers."""
    return [TagInfoOut(**t) for t in tag_service.list_tags(session)]


@router.post("/tags", response_model=TagInfoOut, status_code=201, responses=responses(403))
def define_tag(body: TagCreate, session: SessionDep, actor: ActorDep) -> TagInfoOut:
    """Define a tag (or change its labels or rule); a rule is checked before it is saved."""
    tag_service.define_tag(session, actor=actor, **body.model_dump())
    found = [t for t in tag_service.list_tags(session) if t["name"] == body.name]
    return TagInfoOut(**found[0])


@router.put(
    "/customers/{customer_id}/tags/{tag}",
    response_model=TaggedOut,
    responses=responses(403, 404, 409),
)
def tag_customer(
    customer_id: CustomerId, tag: TagPath, session: SessionDep, actor: ActorDep
) -> TaggedOut:
    """Put a manual tag on a customer."""
    changed = tag_service.tag_customer(session, actor=actor, customer_id=customer_id, tag=tag)
    return TaggedOut(customer_id=customer_id, tag=tag, changed=changed)


@router.delete(
    "/customers/{customer_id}/tags/{tag}",
    response_model=TaggedOut,
    responses=responses(403, 404, 409),
)
def untag_customer(
    customer_id: CustomerId, tag: TagPath, session: SessionDep, actor: ActorDep
) -> TaggedOut:
    """Take a manual tag off a customer."""
    changed = tag_service.untag_customer(session, actor=actor, customer_id=customer_id, tag=tag)
    return TaggedOut(customer_id=customer_id, tag=tag, changed=changed)
