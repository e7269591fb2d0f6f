"""Dependencies of the routes, as ``Annotated`` aliases (full-stack-fastapi-template style).

``SessionDep`` opens one store session per request and closes it afterwards (services own
their transactions); ``ActorDep`` is the signed-in user as an ``Actor`` (set by
``clm.api.security.BearerGate``); ``CurrentUser`` is that user's row; ``SettingsDep`` the
settings the app was built with; ``WarehouseDep`` the analytics warehouse, if any;
``RunnerDep`` runs a service for the routes read most often (``clm.api.runner.Runner``).
Declaring the bearer scheme here puts it into OpenAPI.

Dependencies that only read the request are ``async``: FastAPI runs a plain ``def``
dependency in a worker thread, and that hand-over costs more than such a dependency's work.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from clm.api.runner import Runner
from clm.config import Settings
from clm.errors import AuthenticationError
from clm.services.actors import Actor
from clm.store.tables import User
from clm.warehouse import Warehouse

bearer = HTTPBearer(
    auto_error=False,
    description="An API token from POST /api/v1/auth/token (or `clm serve`'s first start)",
)


def get_session(request: Request) -> Iterator[Session]:
    session = request.app.state.store.sessions()
    try:
        yield session
    finally:
        session.close()


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_actor(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    actor = getattr(request.state, "actor", None)
    if actor is None:
        raise AuthenticationError("sign in first: send Authorization: Bearer <token>")
    return actor


async def get_runner(request: Request) -> Runner:
    return request.app.state.runner


SessionDep = Annotated[Session, Depends(get_session)]
RunnerDep = Annotated[Runner, Depends(get_runner)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ActorDep = Annotated[Actor, Depends(get_actor)]


def get_current_user(session: SessionDep, actor: ActorDep) -> User:
    user = session.get(User, actor.user_id)
    if user is None or not user.active:
        raise AuthenticationError("this account no longer exists or is disabled")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_warehouse(settings: SettingsDep) -> Iterator[Warehouse | None]:
    """The analytics warehouse, if this installation has one yet (erasure rewrites it too).

    Opened per request and closed after it: a DuckDB file admits one writer, and an engine run
    must be able to take it between requests.
    """
    if settings.warehouse_url is None and not Path(
        settings.resolved_warehouse_url().removeprefix("duckdb://")
    ).exists():
        yield None
        return
    warehouse = Warehouse.connect(settings.resolved_warehouse_url(),
                                  memory_limit=settings.duckdb_memory_limit)
    try:
        yield warehouse
    finally:
        warehouse.con.disconnect()


WarehouseDep = Annotated[Warehouse | None, Depends(get_warehouse)]
