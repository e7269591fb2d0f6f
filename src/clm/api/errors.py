"""The one error shape of the API, and the handlers that put every failure into it.

Every failure a client can cause answers ``{"error": {"code", "message", "context"}}`` with the
status of its ``ClmError`` (``clm.errors``): service errors, request validation (``input_error``,
422, naming the field), unknown paths (``not_found``), wrong methods (``method_not_allowed``).
A bug answers 500 ``internal_error`` in the same shape, without a traceback. One shape, pinned
by a test, is the datasette habit: clients parse one thing.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from clm.errors import ClmError

log = logging.getLogger("clm.api")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "input_error",
    429: "too_many_requests",
}
DESCRIPTIONS = {
    401: "No valid credentials (missing, unknown or revoked token; wrong login or password)",
    403: "Signed in, but the role lacks the permission named in the context",
    404: "The thing does not exist, or is not visible to this user",
    409: "Conflicts with the current state (already done, taken, changed meanwhile)",
    422: "Invalid input; the context names the field (and file line for playbooks)",
}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. input_error, not_found")
    message: str = Field(description="What went wrong, in words a user can act on")
    context: dict[str, Any] = Field(
        default_factory=dict, description="Where: field, file, line, permission, ..."
    )


class ErrorOut(BaseModel):
    """The one error shape of every API failure."""

    error: ErrorDetail


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for routes: 401 and 422 always, plus ``codes``."""
    wanted = sorted({401, 422, *codes})
    return {c: {"model": ErrorOut, "description": DESCRIPTIONS[c]} for c in wanted}


def error_body(code: str, message: str, **context: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "context": context}}


def clm_error_response(exc: ClmError) -> JSONResponse:
    """The answer to a ``ClmError``: its status, the one error shape."""
    return JSONResponse(exc.to_dict(), status_code=exc.http_status)


async def _clm_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClmError)
    return clm_error_response(exc)


def _field(loc: tuple | list) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "(body)"


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _field(e.get("loc", ())),
            "location": str(e.get("loc", ("body",))[0]) if e.get("loc") else "body",
            "message": str(e.get("msg", "invalid")),
        }
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "(body)", "location": "body", "message": "invalid"}
    message = f"{first['location']} field {first['field']}: {first['message']}"
    body = error_body(
        "input_error", message, field=first["field"], location=first["location"], errors=errors
    )
    return JSONResponse(body, status_code=422)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI's "error parsing the body" (not UTF-8, bad form)
        return JSONResponse(
            error_body("input_error", "the body is not valid JSON text", location="body"),
            status_code=422,
        )
    code = HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return JSONResponse(
        error_body(code, message), status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return JSONResponse(
        error_body("internal_error", "internal error; the server log has the details"),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure into the one error shape."""
    app.add_exception_handler(ClmError, _clm_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
