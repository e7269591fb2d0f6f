"""Users, roles and API tokens."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from clm.api.schemas.common import Email, Login, NewPassword, Password, ShortName, UtcDatetime

Role = Literal["admin", "manager", "sales", "marketing", "success", "support", "product"]


class UserOut(BaseModel):
    id: int
    login: str
    name: str
    email: str | None
    role: str
    active: bool
    created_at: UtcDatetime
    permissions: list[str]


class UserCreate(BaseModel):
    model_config = {"extra": "forbid"}

    login: Login = Field(description="2-64 letters, digits or . _ @ -")
    name: ShortName
    role: Role
    email: Email | None = None
    password: NewPassword | None = Field(
        default=None, description="At least 10 characters; leave out for a token-only account"
    )


class UserUpdate(BaseModel):
    model_config = {"extra": "forbid"}

    role: Role | None = None
    password: NewPassword | None = None


class TokenRequest(BaseModel):
    model_config = {"extra": "forbid"}

    login: ShortName
    password: Password
    token_name: ShortName = Field(default="api", description="A name to recognise the token by")


class TokenCreate(BaseModel):
    model_config = {"extra": "forbid"}

    name: ShortName = "api"


class TokenOut(BaseModel):
    """A new API token; it is shown this once (only its hash is stored)."""

    token_id: int
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    user: UserOut
