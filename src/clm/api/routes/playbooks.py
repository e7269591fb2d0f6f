"""Playbooks: the stored versions, the one in force, and uploading a new version."""

from __future__ import annotations

from fastapi import APIRouter

from clm.api.deps import ActorDep, SessionDep
from clm.api.errors import responses
from clm.api.routes.params import VersionId
from clm.api.schemas.playbooks import (
    PlaybookCreate,
    PlaybookOut,
    PlaybookVersionOut,
    StagePlaybookOut,
    TaskTemplateOut,
)
from clm.errors import NotFoundError
from clm.services import playbooks as playbook_service
from clm.services.playbooks import Playbook
from clm.store.tables import PlaybookVersion

router = APIRouter(prefix="/playbooks", tags=["playbooks"])


def _out(playbook: Playbook, version_id: int | None) -> PlaybookOut:
    return PlaybookOut(
        version_id=version_id,
        name=playbook.name,
        version_hash=playbook.version_hash,
        content=playbook.content,
        stages={
            name: StagePlaybookOut(
                goal=spec.goal,
                owner_roles=list(spec.owner_roles),
                cadence=str(spec.cadence),
                actions=[dict(a) for a in spec.actions],
                tasks=[
                    TaskTemplateOut(
                        kind=t.kind,
                        title=t.title,
                        day=t.day,
                        every=str(t.every) if t.every else None,
                        until_day=t.until_day,
                    )
                    for t in spec.tasks
                ],
            )
            for name, spec in playbook.stages.items()
        },
    )


def _version_out(row: PlaybookVersion, active_id: int | None) -> PlaybookVersionOut:
    return PlaybookVersionOut(
        id=row.id,
        name=row.name,
        version_hash=row.version_hash,
        created_by=row.created_by,
        created_at=row.created_at,
        activated_at=row.activated_at,
        active=row.id == active_id,
    )


@router.get("", response_model=list[PlaybookVersionOut], responses=responses())
def list_versions(session: SessionDep, actor: ActorDep) -> list[PlaybookVersionOut]:
    """List the stored playbook versions, the one in force first."""
    rows = playbook_service.playbook_versions(session)
    active_id = rows[0].id if rows else None
    return [_version_out(r, active_id) for r in rows]


@router.get("/active", response_model=PlaybookOut, responses=responses())
def get_active(session: SessionDep, actor: ActorDep) -> PlaybookOut:
    """Show the playbook in force (the shipped default until one is stored)."""
    found = playbook_service.active_playbook(session)
    if found is None:
        return _out(playbook_service.default_playbook(), None)
    return _out(*found)


@router.get("/{version_id}", response_model=PlaybookOut, responses=responses(404))
def get_version(version_id: VersionId, session: SessionDep, actor: ActorDep) -> PlaybookOut:
    """Show one stored playbook version."""
    row = session.get(PlaybookVersion, version_id)
    if row is None:
        raise NotFoundError(f"playbook version {version_id} does not exist", field="version_id")
    return _out(playbook_service.parse_playbook(row.content, file=row.name), row.id)


@router.post(
    "", response_model=PlaybookVersionOut, status_code=201, responses=responses(403)
)
def upload(body: PlaybookCreate, session: SessionDep, actor: ActorDep) -> PlaybookVersionOut:
    """Store a playbook as the version in force; errors name the file line and field."""
    actor.require("playbooks:edit")
    playbook = playbook_service.parse_playbook(body.content, file=body.file_name)
    row = playbook_service.save_playbook(session, actor=actor, playbook=playbook)
    return _version_out(row, row.id)
