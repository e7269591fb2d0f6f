"""Follow-ups: a contact with a customer and the next plan, which becomes the next task."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from clm.api.schemas.common import MAX_ID, LongText, RequiredLongText, Text500, UtcDatetime
from clm.api.schemas.tasks import TaskOut

Channel = Literal["phone", "email", "visit", "wechat", "meeting"]


class FollowUpCreate(BaseModel):
    model_config = {"extra": "forbid"}

    occurred_on: dt.date
    channel: Channel
    summary: RequiredLongText = Field(description="What was discussed and agreed")
    outcome: LongText | None = None
    next_date: dt.date | None = Field(default=None, description="Date of the next follow-up")
    next_purpose: Text500 | None = Field(default=None, description="Purpose of the next one")
    task_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="The open task this follow-up carried out"
    )
    assignee_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="Who does the next task (default: you)"
    )


class FollowUpOut(BaseModel):
    id: int
    customer_id: str
    occurred_on: dt.date
    channel: str
    summary: str
    outcome: str | None
    next_date: dt.date | None
    next_purpose: str | None
    next_task_id: int | None
    task_id: int | None
    recorded_by: int | None
    created_at: UtcDatetime


class FollowUpResultOut(BaseModel):
    follow_up: FollowUpOut
    next_task: TaskOut | None
    completed_task: TaskOut | None
