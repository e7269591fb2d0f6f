"""Strategy effectiveness per stage and playbook version over a period."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from clm.api.deps import ActorDep, SessionDep
from clm.api.errors import responses
from clm.api.schemas.tags import EffectivenessOut
from clm.errors import InputError
from clm.services.effectiveness import strategy_effectiveness

router = APIRouter(prefix="/effectiveness", tags=["effectiveness"])


@router.get("", response_model=EffectivenessOut, responses=responses())
def effectiveness(
    session: SessionDep,
    actor: ActorDep,
    start: Annotated[dt.date, Query(description="First entry date counted")],
    end: Annotated[dt.date, Query(description="Last entry date counted")],
    window_days: Annotated[int, Query(ge=1, le=3650, description="Outcome window")] = 90,
) -> EffectivenessOut:
    """Measure each stage's strategy (win-back, activation, churn) and flag the weak ones."""
    if end < start:
        raise InputError(f"end {end} is before start {start}", field="end")
    report = strategy_effectiveness(session, start=start, end=end, window_days=window_days)
    return EffectivenessOut.model_validate(report.as_dict())
