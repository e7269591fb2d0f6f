"""From service results to response schemas (the only place routes touch ORM rows)."""

from __future__ import annotations

from clm.api.schemas.followups import FollowUpOut, FollowUpResultOut
from clm.api.schemas.tasks import TaskOut
from clm.api.schemas.users import UserOut
from clm.services.actors import ROLE_PERMISSIONS
from clm.services.followups import FollowUpResult
from clm.store.tables import FollowUp, Task, User


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        login=user.login,
        name=user.name,
        email=user.email,
        role=user.role,
        active=user.active,
        created_at=user.created_at,
        permissions=sorted(ROLE_PERMISSIONS.get(user.role, ())),
    )


def task_out(task: Task) -> TaskOut:
    return TaskOut.model_validate(task, from_attributes=True)


def follow_up_out(row: FollowUp) -> FollowUpOut:
    return FollowUpOut.model_validate(row, from_attributes=True)


def follow_up_result_out(result: FollowUpResult) -> FollowUpResultOut:
    return FollowUpResultOut(
        follow_up=follow_up_out(result.follow_up),
        next_task=task_out(result.next_task) if result.next_task else None,
        completed_task=task_out(result.completed_task) if result.completed_task else None,
    )
