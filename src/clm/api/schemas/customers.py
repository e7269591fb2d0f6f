"""Customers: list items, the basic card, stage history and the tracking record (spec s. 4)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from clm.api.schemas.common import Localized


class CustomerOut(BaseModel):
    """A customer in a list; contacts always masked."""

    customer_id: str
    name: str | None
    industry: str | None
    owner: str | None
    owner_user_id: int | None
    phone: str | None
    email: str | None
    erased: bool
    stage: str | None
    stage_since: dt.date | None
    grey_zone: bool


class CustomerPageOut(BaseModel):
    items: list[CustomerOut]
    total: int = Field(description="Customers matching the filter (all pages)")
    limit: int
    offset: int


class CustomerCardOut(BaseModel):
    """Basic info; ``contacts_masked`` says whether phone and e-mail are masked."""

    customer_id: str
    name: str | None
    industry: str | None
    owner: str | None
    owner_user_id: int | None
    acquisition_channel: str | None
    signup_date: dt.date | None
    erased: bool
    phone: str | None
    email: str | None
    contacts_masked: bool
    stage: str | None
    stage_since: dt.date | None


class TransitionOut(BaseModel):
    changed_on: dt.date
    from_stage: str | None
    to_stage: str
    reasons: list[str]
    model_version: str
    run_id: str


class StageOut(BaseModel):
    stage: str
    since: dt.date | None
    previous_stage: str | None
    grey_zone: bool
    reasons: list[str]
    model_version: str
    synced_on: dt.date


class MetricsOut(BaseModel):
    """Core metrics as of the last engine run (``as_of``)."""

    as_of: dt.date
    order_count: int
    total_spend: float
    avg_order_value: float | None
    first_order_date: dt.date | None
    last_order_date: dt.date | None
    days_since_last_order: int | None
    active_days_30d: int
    feature_usage: dict[str, Any] = Field(description="Core feature -> uses in the last 30 days")
    r_score: int | None
    f_score: int | None
    m_score: int | None
    rfm_segment: str | None
    value_tier: str | None
    clv: float | None
    p_alive: float | None
    expected_purchases: float | None


class NoteOut(BaseModel):
    kind: str = Field(description="The feature the note is drawn from")
    value: float | int | bool
    text: Localized


class StrategyOut(BaseModel):
    playbook: str
    playbook_version_id: int
    stage: str
    goal: Localized
    actions: list[Localized]
    owner_roles: list[str]
    cadence: str


class OwnerOut(BaseModel):
    name: str | None
    user_id: int | None
    login: str | None
    role: str | None


class TagOut(BaseModel):
    name: str
    label: Localized
    source: str


class FollowUpBrief(BaseModel):
    id: int
    occurred_on: dt.date
    channel: str
    summary: str
    outcome: str | None
    next_date: dt.date | None
    next_purpose: str | None
    next_task_id: int | None
    recorded_by: int | None


class TaskBrief(BaseModel):
    id: int
    kind: str
    title: Localized
    due_on: dt.date
    assignee_id: int | None
    origin: str
    version: int


class RecordOut(BaseModel):
    """The customer tracking record of spec section 4, in one response."""

    customer: CustomerCardOut
    stage: StageOut | None
    timeline: list[TransitionOut]
    metrics: MetricsOut | None = Field(description="None before an engine run stored metrics")
    notes: list[NoteOut]
    strategy: StrategyOut | None
    owner: OwnerOut
    tags: list[TagOut]
    follow_ups: list[FollowUpBrief]
    next_follow_up: TaskBrief | None
    open_tasks: list[TaskBrief]
