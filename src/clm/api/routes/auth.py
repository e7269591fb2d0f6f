"""Signing in: a login and password for an API token; who am I."""

from __future__ import annotations

from fastapi import APIRouter

from clm.api.deps import CurrentUser, SessionDep
from clm.api.errors import responses
from clm.api.routes.convert import user_out
from clm.api.schemas.users import TokenOut, TokenRequest, UserOut
from clm.services.users import actor_for, authenticate, issue_token
from clm.store.bulk import utcnow

router = APIRouter(tags=["auth"])


@router.post("/auth/token", response_model=TokenOut, responses=responses())
def create_token(body: TokenRequest, session: SessionDep) -> TokenOut:
    """Exchange a login and password for an API token (failed sign-ins are rate-limited)."""
    now = utcnow()
    user = authenticate(session, login=body.login, password=body.password, now=now)
    issued = issue_token(
        session, actor=actor_for(user), user_id=user.id, name=body.token_name, now=now
    )
    return TokenOut(token_id=issued.id, access_token=issued.token, user=user_out(user))


@router.get("/me", response_model=UserOut, responses=responses())
def me(user: CurrentUser) -> UserOut:
    """Show the signed-in user and their permissions."""
    return user_out(user)
