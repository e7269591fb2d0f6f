"""Playbooks: stored versions, the one in force, and uploading a new one."""

from __future__ import annotations

from pydantic import BaseModel, Field

from clm.api.schemas.common import Localized, LongText, ShortText, UtcDatetime


class PlaybookVersionOut(BaseModel):
    id: int
    name: str
    version_hash: str
    created_by: int | None
    created_at: UtcDatetime
    activated_at: UtcDatetime
    active: bool


class TaskTemplateOut(BaseModel):
    kind: str
    title: Localized
    day: int
    every: str | None
    until_day: int | None


class StagePlaybookOut(BaseModel):
    goal: Localized
    owner_roles: list[str]
    cadence: str
    actions: list[Localized]
    tasks: list[TaskTemplateOut]


class PlaybookOut(BaseModel):
    """A playbook, parsed; ``version_id`` is None for the shipped default not yet stored."""

    version_id: int | None
    name: str
    version_hash: str
    stages: dict[str, StagePlaybookOut]
    content: str = Field(description="The YAML text")


class PlaybookCreate(BaseModel):
    model_config = {"extra": "forbid"}

    content: LongText = Field(description="The playbook YAML (see docs/operations.md)")
    file_name: ShortText = Field(
        default="playbook.yaml", description="Named in error messages with the line"
    )
