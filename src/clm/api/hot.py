"""The two reads a sales team's screens ask for all day, answered before FastAPI's routing.

``GET /api/v1/customers/{id}/record`` and ``GET /api/v1/tasks?limit=N`` are most of the API's
traffic (issue 4 measures them at 50 concurrent clients). For each, FastAPI matched the path
against the routes, solved the route's dependencies (the router's query check, the runner, the
actor and its bearer scheme) and validated every query parameter with pydantic: about half of
the server's CPU per request, more than the database read and the JSON together, on a machine
whose two cores also run PostgreSQL (bench/bench_api.py; docs/performance.md).

``HotReads`` sits just inside the bearer gate (so the request is authenticated and its
``Actor`` is on the scope) and answers the *plainest* form of those two requests itself: the
record with no query string and an id the route would accept, the task list with at most
``limit`` and ``offset`` written as plain decimal numbers inside the route's bounds. It calls
the very functions the routes call (``routes.customers.read_record``,
``routes.tasks.read_task_list``) with the same arguments, and a ``ClmError`` answers as the
error handler answers it. Anything else (another parameter, a repeated one, ``limit=050``, a
HEAD, a path with a trailing slash) goes on to the routes unchanged, so validation errors, the
422 for an unknown parameter and OpenAPI stay theirs alone. Tests send each request both ways
(``app.state.hot_reads = False`` turns this off) and compare the answers byte for byte.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from clm.api.errors import clm_error_response
from clm.api.routes.customers import read_record
from clm.api.routes.tasks import read_task_list
from clm.api.schemas.common import MAX_ID
from clm.api.security import API_PREFIX
from clm.errors import ClmError

# The record route's path with the id its ``CustomerId`` accepts: 1-100 characters, none a
# control character (and no "/", which the path's own pattern refuses).
RECORD_PATH = re.compile(re.escape(API_PREFIX) + r"/customers/([^/\x00-\x1f\x7f]{1,100})/record")
TASKS_PATH = f"{API_PREFIX}/tasks"
# The task list's query parameters taken here, with the route's bounds (``Query(ge, le)``).
TASK_BOUNDS = {b"limit": (1, 500), b"offset": (0, MAX_ID)}
PLAIN_NUMBER = re.compile(rb"0|[1-9][0-9]{0,17}")


def task_query(query: bytes) -> dict[str, int] | None:
    """``limit`` and ``offset`` of a plain task-list query string, or None if it is anything
    else (left to the route)."""
    found: dict[str, int] = {}
    if not query:
        return found
    for part in query.split(b"&"):
        name, sep, value = part.partition(b"=")
        bounds = TASK_BOUNDS.get(name)
        if not sep or bounds is None or name.decode() in found:
            return None
        if PLAIN_NUMBER.fullmatch(value) is None:
            return None
        number = int(value)
        if not bounds[0] <= number <= bounds[1]:
            return None
        found[name.decode()] = number
    return found


class HotReads:
    """Answer the plainest record and task-list requests directly; pass everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        actor = scope.get("state", {}).get("actor")
        app = scope.get("app")
        if actor is None or app is None or not getattr(app.state, "hot_reads", False):
            await self.app(scope, receive, send)
            return
        path, query = scope["path"], scope.get("query_string", b"")
        if path == TASKS_PATH:
            params = task_query(query)
            if params is None:
                await self.app(scope, receive, send)
                return
            answer = read_task_list(app.state.runner, actor, **params)
        else:
            match = RECORD_PATH.fullmatch(path) if not query else None
            if match is None:
                await self.app(scope, receive, send)
                return
            answer = read_record(app.state.runner, actor, match.group(1))
        try:
            response = await answer
        except ClmError as exc:
            response = clm_error_response(exc)
        await response(scope, receive, send)
