"""The ``/api/v1`` router: every resource module's routes under one prefix."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from clm.api.query import reject_unknown_query
from clm.api.security import API_PREFIX


def api_router() -> APIRouter:
    """Assemble the API; optional resources join when their service module exists."""
    from clm.api.routes import (
        audit,
        auth,
        consents,
        customers,
        followups,
        playbooks,
        privacy,
        tasks,
        users,
    )

    router = APIRouter(prefix=API_PREFIX, dependencies=[Depends(reject_unknown_query)])
    for module in (auth, customers, followups, tasks, playbooks, consents, privacy, audit, users):
        router.include_router(module.router)
    return router
