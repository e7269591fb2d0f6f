"""The ``/api/v1`` router: every resource module's routes under one prefix."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from clm.api.query import reject_unknown_query
from clm.api.security import API_PREFIX


def api_router() -> APIRouter:
    """Assemble the API from the resource modules."""
    from clm.api.routes import (
        audit,
        auth,
        consents,
        customers,
        effectiveness,
        followups,
        playbooks,
        privacy,
        segments,
        tags,
        tasks,
        users,
    )

    router = APIRouter(prefix=API_PREFIX, dependencies=[Depends(reject_unknown_query)])
    modules = (auth, customers, followups, tasks, playbooks, consents, privacy, audit, users)
    for module in (*modules, tags, segments, effectiveness):
        router.include_router(module.router)
    return router
