"""Path and query parameters shared by several routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from clm.api.schemas.common import MAX_ID

CustomerId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The customer's id (the data contract's customer_id)",
    ),
]
TaskId = Annotated[int, Path(ge=1, le=MAX_ID)]
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
VersionId = Annotated[int, Path(ge=1, le=MAX_ID)]
