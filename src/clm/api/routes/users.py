"""Users and their API tokens (admin)."""

from __future__ import annotations

from fastapi import APIRouter

from clm.api.deps import ActorDep, SessionDep
from clm.api.errors import responses
from clm.api.routes.convert import user_out
from clm.api.routes.params import UserId
from clm.api.schemas.users import TokenCreate, TokenOut, UserCreate, UserOut, UserUpdate
from clm.errors import NotFoundError
from clm.services import users as user_service
from clm.services.audit import transaction
from clm.store.tables import User

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserOut], responses=responses(403))
def list_users(session: SessionDep, actor: ActorDep) -> list[UserOut]:
    """List every user (needs users:manage)."""
    return [user_out(u) for u in user_service.list_users(session, actor=actor)]


@router.post("", response_model=UserOut, status_code=201, responses=responses(403, 409))
def create_user(body: UserCreate, session: SessionDep, actor: ActorDep) -> UserOut:
    """Create a user with a role (needs users:manage)."""
    return user_out(user_service.create_user(session, actor=actor, **body.model_dump()))


@router.patch("/{user_id}", response_model=UserOut, responses=responses(403, 404))
def update_user(
    user_id: UserId, body: UserUpdate, session: SessionDep, actor: ActorDep
) -> UserOut:
    """Change a user's role and/or password, together or not at all."""
    if body.role is None and body.password is None:
        actor.require("users:manage")
    with transaction(session):
        if body.role is not None:
            user_service.set_role(session, actor=actor, user_id=user_id, role=body.role)
        if body.password is not None:
            user_service.set_password(
                session, actor=actor, user_id=user_id, password=body.password
            )
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} does not exist", field="user_id")
    return user_out(user)


@router.post(
    "/{user_id}/tokens", response_model=TokenOut, status_code=201, responses=responses(403, 404)
)
def issue_token(
    user_id: UserId, body: TokenCreate, session: SessionDep, actor: ActorDep
) -> TokenOut:
    """Issue an API token for a user (yourself, or anyone with users:manage)."""
    issued = user_service.issue_token(session, actor=actor, user_id=user_id, name=body.name)
    return TokenOut(
        token_id=issued.id,
        access_token=issued.token,
        user=user_out(session.get(User, user_id)),
    )
