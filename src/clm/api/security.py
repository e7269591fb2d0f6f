"""Authentication: ``Authorization: Bearer <token>`` on every ``/api/v1`` request.

The gate is plain ASGI middleware in front of the API rather than a route dependency, so that
*every* request under ``/api/v1`` without valid credentials answers 401, whatever else is wrong
with it: an unknown path, a wrong method or a malformed body must not tell an anonymous client
more than "sign in first". The one exception is ``POST /api/v1/auth/token``, where the
credentials are a login and password in the body (failed attempts are rate-limited by
``services.users.authenticate``). Tokens come from ``services.users.issue_token``; only their
SHA-256 is stored.

A token checked in the last few seconds is answered from ``services.users.TOKENS`` right here
on the event loop; only a miss goes to the store, in a worker thread.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from clm.api.errors import error_body
from clm.errors import AuthenticationError
from clm.services.actors import Actor
from clm.services.users import TOKENS, store_key, token_actor
from clm.store.bulk import utcnow

API_PREFIX = "/api/v1"
TOKEN_PATH = f"{API_PREFIX}/auth/token"
MAX_TOKEN = 200


def bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if there is one."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token and len(token) <= MAX_TOKEN:
                return token
            return None
    return None


def _authenticate(sessions, token: str) -> Actor:
    return token_actor(sessions, token=token, now=utcnow())


def _refuse(message: str) -> JSONResponse:
    return JSONResponse(
        error_body("unauthorized", message),
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


class BearerGate:
    """Let through only requests with a valid token; put the ``Actor`` on ``request.state``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        guarded = scope["type"] == "http" and (
            path == API_PREFIX or path.startswith(API_PREFIX + "/")
        )
        if not guarded or path == TOKEN_PATH:
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        if token is None:
            await _refuse("sign in first: send Authorization: Bearer <token>")(
                scope, receive, send
            )
            return
        sessions = scope["app"].state.store.sessions
        actor = TOKENS.get(store_key(sessions), token)
        if actor is None:
            try:
                actor = await run_in_threadpool(_authenticate, sessions, token)
            except AuthenticationError as exc:
                await _refuse(exc.message)(scope, receive, send)
                return
        scope.setdefault("state", {})["actor"] = actor
        await self.app(scope, receive, send)
