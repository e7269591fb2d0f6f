"""The one composition root: ``create_app(settings)`` builds the web application.

Nothing is built at import time. ``create_app`` refuses unsafe settings, opens the operational
store (migrating it to the newest schema), keeps the settings and the store on ``app.state``,
installs the one error handler, the bearer-token gate and the ``/api/v1`` routes, and mounts
the web app. Tests build as many apps as they like, each on its own store.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy import func, select

from clm import __version__
from clm.config import Settings, get_settings
from clm.services.actors import Actor
from clm.store.engine import Store
from clm.store.tables import User

API_DESCRIPTION = """Customer lifecycle management: customers and their tracking record, stage
history, tasks, follow-ups, playbooks, consent, privacy requests, audit and users.

Every `/api/v1` request needs `Authorization: Bearer <token>` (get one from
`POST /api/v1/auth/token`). Every error answers `{"error": {"code", "message", "context"}}`."""


def create_app(settings: Settings) -> FastAPI:
    """Build the application for ``settings`` (API now, web pages when mounted)."""
    from clm.api.errors import install_error_handlers
    from clm.api.hot import HotReads
    from clm.api.router import api_router
    from clm.api.runner import Runner
    from clm.api.security import BearerGate

    settings.check_safe()
    store = Store.open(settings.resolved_store_url())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.runner.close()
        store.dispose()

    app = FastAPI(
        title="clm",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.runner = Runner(store)
    app.state.hot_reads = True  # clm.api.hot answers the plainest hot reads; tests turn it off
    install_error_handlers(app)
    app.add_middleware(HotReads)  # inside the gate: the last middleware added is the outermost
    app.add_middleware(BearerGate)
    app.include_router(api_router())

    # -- web app: the web helper mounts the server-rendered pages here ----------------------
    from clm.web import mount_web

    mount_web(app, settings=settings, store=store)
    # ----------------------------------------------------------------------------------------
    return app


def app_from_environment() -> FastAPI:
    """``create_app`` on the ``CLM_*`` settings: the factory each ``clm serve --workers``
    process calls."""
    return create_app(get_settings())


@dataclass(frozen=True)
class FirstAdmin:
    """The admin account a first start created; ``password`` is None when it came from the
    settings (it is not echoed back then)."""

    login: str
    password: str | None


def ensure_first_admin(app: FastAPI) -> FirstAdmin | None:
    """On a store without users, create ``admin`` with ``CLM_ADMIN_PASSWORD`` or a generated
    password; return what was created, or None when users already exist."""
    from clm.services.users import create_user

    settings: Settings = app.state.settings
    store: Store = app.state.store
    configured = settings.admin_password.get_secret_value() if settings.admin_password else None
    password = configured or secrets.token_urlsafe(12)
    with store.session() as session:
        if session.scalar(select(func.count()).select_from(User)):
            return None
        create_user(
            session,
            actor=Actor.system(),
            login="admin",
            name="Administrator",
            role="admin",
            password=password,
        )
    return FirstAdmin(login="admin", password=None if configured else password)
