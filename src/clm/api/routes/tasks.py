"""Tasks: mine (or anyone's with tasks:all), due, overdue; completing and cancelling."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Response

from clm.api.deps import ActorDep, RunnerDep, SessionDep
from clm.api.errors import responses
from clm.api.routes.convert import task_out
from clm.api.routes.params import TaskId
from clm.api.runner import Runner
from clm.api.schemas.common import MAX_ID
from clm.api.schemas.tasks import TaskComplete, TaskOut
from clm.services import tasks as task_service
from clm.services.actors import Actor
from clm.store.bulk import utcnow

router = APIRouter(prefix="/tasks", tags=["tasks"])

Status = Literal["open", "done", "superseded", "cancelled", "any"]
Due = Literal["any", "due", "overdue"]


@router.get("", response_model=list[TaskOut], responses=responses(403))
async def list_tasks(
    run: RunnerDep,
    actor: ActorDep,
    assignee_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Default: you (anyone needs tasks:all)")
    ] = None,
    everyone: Annotated[
        bool, Query(description="Everyone's tasks instead of yours (needs tasks:all)")
    ] = False,
    customer_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    status: Annotated[Status, Query()] = "open",
    due: Annotated[
        Due, Query(description="due: due on as_of or before; overdue: before as_of")
    ] = "any",
    as_of: Annotated[dt.date | None, Query(description="Today, for due/overdue (UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Response:
    """List tasks: yours by default; due today or overdue, or only overdue."""
    return await read_task_list(
        run,
        actor,
        assignee_id=assignee_id,
        everyone=everyone,
        customer_id=customer_id,
        status=status,
        due=due,
        as_of=as_of,
        limit=limit,
        offset=offset,
    )


async def read_task_list(
    run: Runner,
    actor: Actor,
    *,
    assignee_id: int | None = None,
    everyone: bool = False,
    customer_id: str | None = None,
    status: Status = "open",
    due: Due = "any",
    as_of: dt.date | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Response:
    """The task list's answer for validated parameters (the route's defaults): shared by the
    route and ``clm.api.hot``, which answers the plainest requests without the routing."""
    today = as_of or utcnow().date()
    due_by = {"any": None, "due": today, "overdue": today - dt.timedelta(days=1)}[due]
    if everyone:
        actor.require("tasks:all")
    elif assignee_id is None:
        assignee_id = actor.user_id
    # The service's JSON already has TaskOut's shape (tests pin it): not validated again.
    body = await run.read(
        task_service.task_list_json,
        actor=actor,
        assignee_id=assignee_id,
        customer_id=customer_id,
        status=None if status == "any" else status,
        due_by=due_by,
        limit=limit,
        offset=offset,
    )
    return Response(body, media_type="application/json")


@router.post(
    "/{task_id}/complete", response_model=TaskOut, responses=responses(403, 404, 409)
)
def complete_task(
    task_id: TaskId,
    session: SessionDep,
    actor: ActorDep,
    body: Annotated[TaskComplete | None, Body()] = None,
) -> TaskOut:
    """Mark a task done, exactly once (a second completion answers 409)."""
    expected = body.expected_version if body else None
    return task_out(
        task_service.complete_task(
            session, actor=actor, task_id=task_id, expected_version=expected
        )
    )


@router.post("/{task_id}/cancel", response_model=TaskOut, responses=responses(403, 404, 409))
def cancel_task(task_id: TaskId, session: SessionDep, actor: ActorDep) -> TaskOut:
    """Cancel an open task."""
    return task_out(task_service.cancel_task(session, actor=actor, task_id=task_id))
