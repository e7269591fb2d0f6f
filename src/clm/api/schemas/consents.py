"""Consent events per purpose and channel (PIPL / GDPR), and privacy requests."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from clm.api.schemas.common import ShortName, UtcDatetime

Purpose = Literal["marketing", "service", "analytics"]
ConsentChannel = Literal["email", "sms", "phone", "wechat", "post"]


class ConsentCreate(BaseModel):
    model_config = {"extra": "forbid"}

    purpose: Purpose
    channel: ConsentChannel
    status: Literal["granted", "withdrawn"]
    at: AwareDatetime = Field(description="When the customer said so (with a UTC offset)")
    source: ShortName = Field(description="Where: a form, a call, an unsubscribe link")


class ConsentOut(BaseModel):
    id: int
    customer_id: str
    purpose: str
    channel: str
    status: str
    at: UtcDatetime
    source: str
    recorded_by: int | None


class ConsentStateOut(BaseModel):
    in_force: list[ConsentOut] = Field(description="The latest event per purpose and channel")
    events: list[ConsentOut] = Field(description="Every event, oldest first")


class ErasureOut(BaseModel):
    customer_id: str
    follow_ups_redacted: int
    tasks_redacted: int
    tasks_cancelled: int
    audit_rows_redacted: int
    warehouse_rows: int | None
    fields: list[str]


class AuditOut(BaseModel):
    id: int
    at: UtcDatetime
    actor_user_id: int | None
    actor_run_id: str | None
    model_version: str | None
    action: str
    entity: str
    entity_id: str | None
    customer_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
