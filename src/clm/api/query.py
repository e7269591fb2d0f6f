"""Unknown or repeated query parameters are refused, not ignored.

``GET /api/v1/customers?stgae=new`` silently listing every customer would hide the typo; the
API answers 422 naming the parameter and listing the ones the route takes. No route takes a
list, so ``?stage=new&stage=mature`` is refused too rather than quietly using the last one.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.routing import APIRoute

from clm.errors import InputError


def _query_names(dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _allowed(route: APIRoute) -> frozenset[str]:
    # A route's parameters never change: walk them once, not on every request.
    names = route.__dict__.get("_clm_query_names")
    if names is None:
        names = route.__dict__["_clm_query_names"] = frozenset(_query_names(route.dependant))
    return names


async def reject_unknown_query(request: Request) -> None:
    """Raise ``InputError`` for a query parameter the route does not declare, or one repeated.

    ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in a worker
    thread, a hand-over that costs more than the check itself on every request.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = _allowed(route)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) or "none"
        raise InputError(
            f"unknown query parameter {unknown[0]!r}; this route takes: {takes}",
            field=unknown[0],
            location="query",
        )
    for name in request.query_params:
        if len(request.query_params.getlist(name)) > 1:
            raise InputError(
                f"query parameter {name!r} is given more than once", field=name, location="query"
            )
