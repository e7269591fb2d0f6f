"""Tags (manual and rule-based), segments (saved filters) and strategy effectiveness."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from clm.api.schemas.common import ShortName, Text500, _text
from clm.services.segments import SegmentFilter

TagName = _text(100, required=True, pattern=r"^[a-z][a-z0-9_-]{0,99}$")
SegmentName = _text(100, required=True)


class TagCreate(BaseModel):
    model_config = {"extra": "forbid"}

    name: TagName = Field(description="lower-case letters, digits, - and _")
    label_en: ShortName
    label_zh: ShortName
    rule: Text500 | None = Field(
        default=None, description="Makes it a rule tag, e.g. `order_count >= 2` (stage rules)"
    )


class TagInfoOut(BaseModel):
    id: int
    name: str
    label_en: str
    label_zh: str
    kind: str
    rule: str | None
    customers: int


class TaggedOut(BaseModel):
    customer_id: str
    tag: str
    changed: bool = Field(description="False when the customer already had (or lacked) it")


class SegmentCreate(BaseModel):
    model_config = {"extra": "forbid"}

    name: SegmentName
    definition: SegmentFilter


class SegmentOut(BaseModel):
    id: int
    name: str
    definition: dict[str, Any]
    created_by: int | None


class SegmentMembersOut(BaseModel):
    segment_id: int
    total: int
    customer_ids: list[str]


class StrategyRowOut(BaseModel):
    stage: str
    playbook_version_id: int | None
    entries: int
    observed: int
    pending: int
    win_back_rate: float | None
    activation_rate: float | None
    churn_rate: float | None
    repurchase_before: float | None
    repurchase_after: float | None
    repurchase_uplift: float | None
    flags: list[str]
    flagged: bool


class EffectivenessOut(BaseModel):
    start: dt.date
    end: dt.date
    window_days: int
    as_of: dt.date | None
    model_version: str | None
    thresholds: dict[str, Any]
    rows: list[StrategyRowOut]
