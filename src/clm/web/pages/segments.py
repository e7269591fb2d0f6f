"""Segments: build one from filters, see its size before saving, export its consented audience."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from clm.errors import ClmError
from clm.services.consent import CHANNELS, CONSENT_CHANNEL_LABELS, PURPOSE_LABELS, PURPOSES
from clm.services.dashboard import owner_options, segment_options
from clm.services.segments import (
    export_segment_csv,
    list_segments,
    members,
    parse_definition,
    save_segment,
    segment_size,
)
from clm.services.tags import list_tags
from clm.web.context import (
    CsrfDep,
    DbDep,
    UserDep,
    redirect,
    render,
    request_locale,
)
from clm.web.labels import segment_label, stage_label, tier_label

router = APIRouter()
TIERS = ("A", "B", "C")


def definition_from_form(form: Any) -> dict[str, Any]:
    """The segment definition the builder form describes (empty fields left out)."""
    def many(name: str) -> list[str] | None:
        values = [str(v) for v in form.getlist(name) if str(v).strip()]
        return values or None

    grey = str(form.get("grey_zone") or "")
    expression = str(form.get("expression") or "").strip()
    tags = [t.strip() for t in str(form.get("tags_any") or "").split(",") if t.strip()]
    definition = {
        "stages": many("stages"),
        "owners": many("owners"),
        "value_tiers": many("value_tiers"),
        "rfm_segments": many("rfm_segments"),
        "tags_any": tags or None,
        "grey_zone": {"yes": True, "no": False}.get(grey),
        "expression": expression or None,
    }
    return {k: v for k, v in definition.items() if v is not None}


def _page(request, session, user, *, error=None, size=None, form=None, status_code=200):
    rows = []
    for seg in list_segments(session):
        try:
            n = segment_size(session, seg.id, actor=user.actor)
        except ClmError:
            n = None
        rows.append({"id": seg.id, "name": seg.name, "definition": seg.definition, "size": n})
    from sqlalchemy import select

    from clm.store.tables import CustomerStage

    stages = sorted(s for s in session.scalars(select(CustomerStage.stage).distinct()) if s)
    return render(
        request,
        "segments.html",
        user=user,
        segments=rows,
        stages=stages,
        owners=owner_options(session, actor=user.actor),
        rfm=segment_options(session),
        tiers=TIERS,
        tags=list_tags(session),
        purposes=[(p, PURPOSE_LABELS.get(p, {})) for p in PURPOSES],
        channels=[(c, CONSENT_CHANNEL_LABELS.get(c, {})) for c in CHANNELS],
        error=error,
        form=form or {},
        stage_label=stage_label,
        segment_label=segment_label,
        tier_label=tier_label,
        saved=request.query_params.get("saved"),
        status_code=status_code,
    )


@router.get("/segments")
def segments_page(request: Request, session: DbDep, user: UserDep) -> Response:
    """Show the saved segments and the segment builder."""
    return _page(request, session, user)


@router.post("/segments/size", dependencies=[CsrfDep])
async def segment_preview_size(request: Request, session: DbDep, user: UserDep) -> Response:
    """Count the customers the builder's filters select, without saving."""
    form = await request.form()
    try:
        spec = parse_definition(definition_from_form(form))
        size = len(members(session, spec, actor=user.actor))
    except ClmError as exc:
        return render(request, "_task_error.html", user=user, message=exc.message)
    return render(request, "_segment_size.html", user=user, size=size)


@router.post("/segments", dependencies=[CsrfDep])
async def segment_save(request: Request, session: DbDep, user: UserDep) -> Response:
    """Save the builder's filters as a named segment."""
    form = await request.form()
    try:
        row = save_segment(
            session, actor=user.actor, name=str(form.get("name") or ""),
            definition=definition_from_form(form),
        )
    except ClmError as exc:
        session.rollback()
        return _page(request, session, user, error=exc.message, status_code=422)
    return redirect(f"/segments?saved={row.id}")


@router.post("/segments/{segment_id}/export", dependencies=[CsrfDep])
async def segment_export(
    request: Request, session: DbDep, user: UserDep, segment_id: int
) -> Response:
    """Download the segment's audience that consented to the purpose over the channel."""
    form = await request.form()
    purpose = str(form.get("purpose") or "marketing")
    channel = str(form.get("channel") or "email")
    folder = Path(tempfile.mkdtemp(prefix="clm-export-"))
    path = folder / f"segment-{segment_id}-{purpose}-{channel}.csv"
    try:
        export_segment_csv(
            session, segment_id, actor=user.actor, purpose=purpose, channel=channel,
            path=path, as_of=dt.datetime.now(dt.UTC), locale=request_locale(request),
        )
    except ClmError as exc:
        session.rollback()
        path.unlink(missing_ok=True)
        folder.rmdir()
        return _page(request, session, user, error=exc.message, status_code=422)

    def _cleanup() -> None:
        path.unlink(missing_ok=True)
        folder.rmdir()

    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=path.name,
                        background=BackgroundTask(_cleanup))
