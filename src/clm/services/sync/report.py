"""What one stage sync wrote."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd


@dataclass
class SyncReport:
    """What one sync wrote; all zero when the store already held the run's results.

    ``seconds`` times the sync's steps: reading the store (``read``), comparing the run with it
    (``compare ...``), preparing tasks and audit rows (``prepare ...``), the writes themselves
    (``write ...``) and the wait for the last of them (``wait for writes``). On PostgreSQL the
    writes run on a worker thread alongside the comparing and preparing, so the steps add up to
    more than the whole.
    """

    run_id: str
    model_version: str
    as_of: date
    customers_inserted: int = 0
    customers_updated: int = 0
    stages_inserted: int = 0
    stages_updated: int = 0
    stage_changes: int = 0
    transitions_inserted: int = 0
    tasks_opened: int = 0
    tasks_superseded: int = 0
    tasks_unassigned: int = 0
    audit_rows: int = 0
    changes: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["customer_id", "from_stage", "to_stage"])
    )
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def wrote_anything(self) -> bool:
        return bool(
            self.customers_inserted
            or self.customers_updated
            or self.stages_inserted
            or self.stages_updated
            or self.transitions_inserted
            or self.tasks_opened
            or self.tasks_superseded
        )

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}
