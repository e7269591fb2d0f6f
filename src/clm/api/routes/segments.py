"""Segments: saved filters over stage, owner, tags, values and features, and their members."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query

from clm.api.deps import ActorDep, SessionDep
from clm.api.errors import responses
from clm.api.routes.params import VersionId as SegmentId
from clm.api.schemas.common import MAX_ID
from clm.api.schemas.tags import SegmentCreate, SegmentMembersOut, SegmentOut
from clm.services import segments as segment_service
from clm.store.tables import Segment

router = APIRouter(prefix="/segments", tags=["segments"])


def _out(row: Segment) -> SegmentOut:
    return SegmentOut(
        id=row.id, name=row.name, definition=json.loads(row.definition), created_by=row.created_by
    )


@router.get("", response_model=list[SegmentOut], responses=responses())
def list_segments(session: SessionDep, actor: ActorDep) -> list[SegmentOut]:
    """List the saved segments."""
    return [_out(r) for r in segment_service.list_segments(session)]


@router.post("", response_model=SegmentOut, status_code=201, responses=responses(403, 404))
def save_segment(body: SegmentCreate, session: SessionDep, actor: ActorDep) -> SegmentOut:
    """Save a segment (or replace the definition of the one with this name)."""
    row = segment_service.save_segment(
        session, actor=actor, name=body.name, definition=body.definition
    )
    return _out(row)


@router.get(
    "/{segment_id}/members", response_model=SegmentMembersOut, responses=responses(404)
)
def segment_members(
    segment_id: SegmentId,
    session: SessionDep,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> SegmentMembersOut:
    """List the ids of a segment's members you may see, one page of them."""
    ids = segment_service.segment_members(session, segment_id, actor=actor)
    return SegmentMembersOut(
        segment_id=segment_id, total=len(ids), customer_ids=ids[offset : offset + limit]
    )
