"""Tasks: what to do for which customer by when, and completing one exactly once."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from clm.api.schemas.common import MAX_ID, UtcDatetime


class TaskOut(BaseModel):
    id: int
    customer_id: str
    stage: str | None
    kind: str
    title: str
    title_zh: str | None
    due_on: dt.date
    assignee_id: int | None
    status: str
    origin: str
    created_at: UtcDatetime
    closed_at: UtcDatetime | None
    completed_by: int | None
    version: int = Field(description="Bumped by every change; pass it back to guard a completion")


class TaskComplete(BaseModel):
    """Optional body of a completion: refuse it if the task changed since you read it."""

    model_config = {"extra": "forbid"}

    expected_version: int | None = Field(default=None, ge=1, le=MAX_ID)
