"""The task inbox: overdue, today, upcoming; complete a task with a note and the next plan."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select

from clm.errors import ClmError
from clm.services.followups import CHANNEL_LABELS, record_follow_up
from clm.services.tasks import list_tasks
from clm.store.tables import FOLLOW_UP_CHANNELS, Customer, Task
from clm.web.context import CsrfDep, DbDep, UserDep, parse_date, redirect, render

router = APIRouter()
UPCOMING_DAYS = 14
INBOX_LIMIT = 500


def _names(session, tasks: list[Task]) -> dict[str, str]:
    ids = sorted({t.customer_id for t in tasks})
    if not ids:
        return {}
    rows = session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids)))
    return {i: n or i for i, n in rows}


def inbox_groups(tasks: list[Task], today: dt.date) -> list[tuple[str, list[Task]]]:
    """Split open tasks into overdue, due today and the next two weeks."""
    horizon = today + dt.timedelta(days=UPCOMING_DAYS)
    return [
        ("overdue", [t for t in tasks if t.due_on < today]),
        ("today", [t for t in tasks if t.due_on == today]),
        ("upcoming", [t for t in tasks if today < t.due_on <= horizon]),
    ]


@router.get("/tasks")
def inbox(request: Request, session: DbDep, user: UserDep, today: str | None = None) -> Response:
    """Show my open tasks: overdue, today and upcoming."""
    day = parse_date(today, field="today") or dt.date.today()
    tasks = list_tasks(
        session,
        actor=user.actor,
        assignee_id=user.id,
        status="open",
        due_by=day + dt.timedelta(days=UPCOMING_DAYS),
        limit=INBOX_LIMIT,
    )
    return render(
        request,
        "tasks.html",
        user=user,
        groups=inbox_groups(tasks, day),
        names=_names(session, tasks),
        day=day,
        channels=[(c, CHANNEL_LABELS[c]) for c in FOLLOW_UP_CHANNELS],
        error=request.query_params.get("error"),
    )


@router.post("/tasks/{task_id}/complete", dependencies=[CsrfDep])
def complete(
    request: Request,
    session: DbDep,
    user: UserDep,
    task_id: int,
    summary: Annotated[str, Form()],
    channel: Annotated[str, Form()] = "phone",
    next_date: Annotated[str, Form()] = "",
    next_purpose: Annotated[str, Form()] = "",
) -> Response:
    """Complete a task with a note of what happened and the next plan, in one step."""
    task = session.get(Task, task_id)
    customer_id = task.customer_id if task else ""
    try:
        if task is None:
            from clm.errors import NotFoundError

            raise NotFoundError(f"task {task_id} does not exist", field="task_id")
        record_follow_up(
            session,
            actor=user.actor,
            customer_id=customer_id,
            occurred_on=dt.date.today(),
            channel=channel,
            summary=summary,
            next_date=parse_date(next_date, field="next_date"),
            next_purpose=next_purpose or None,
            task_id=task_id,
        )
    except ClmError as exc:
        session.rollback()
        field = exc.context.get("field")
        message = f"{field}: {exc.message}" if field else exc.message
        if request.headers.get("hx-request"):
            response = render(request, "_task_error.html", user=user, message=message)
            response.headers["HX-Retarget"] = f"#task-status-{task_id}"
            response.headers["HX-Reswap"] = "innerHTML"
            return response
        return redirect(f"/tasks?error={quote(message)}")
    if request.headers.get("hx-request"):
        return render(request, "_task_done.html", user=user, task_id=task_id,
                      next_date=next_date, next_purpose=next_purpose)
    return redirect("/tasks")
