"""Changing the stage model: preview who would move, then rebuild the history under it.

A model change is a decision a manager makes with numbers in front of them: the preview builds
the complete alternative history in scratch tables (nothing saved is touched) and compares the
stages as of a date with those stored for the active model, as a from -> to matrix with example
customers. Saving copies the scratch history in under the new version and makes it active; the
old version's history stays, so the change can be undone by activating it again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from clm.analytics.rules import StageModel, parse_model
from clm.errors import NotFoundError
from clm.services.history import (
    MODELS,
    RUNS,
    TRANSITIONS,
    StageHistory,
    data_start,
    latest_state,
    plan_dates,
)
from clm.warehouse import Warehouse

ACTIVE = "stage_model_active"
PREVIEW_TRANSITIONS = "stage_transitions_preview"
PREVIEW_RUNS = "stage_runs_preview"
EXAMPLES_PER_CELL = 3


@dataclass(frozen=True)
class ModelDiff:
    """How stages as of ``as_of`` would change from the active model to the proposed one."""

    as_of: dt.date
    active_version: str | None
    proposed_version: str
    matrix: pd.DataFrame  # from_stage, to_stage, customers, examples (list of ids)
    customers: int

    @property
    def moved(self) -> int:
        m = self.matrix
        return int(m.loc[m.from_stage.fillna("") != m.to_stage, "customers"].sum())


def active_version(warehouse: Warehouse) -> str | None:
    """The model version whose history the workspace currently shows, if any."""
    if not warehouse.has_table(ACTIVE):
        return None
    df = warehouse.table(ACTIVE).execute()
    return None if df.empty else str(df.model_version.iloc[0])


def set_active(warehouse: Warehouse, model: StageModel) -> None:
    """Make ``model``'s history the one shown (a one-row table, rewritten only on change)."""
    if active_version(warehouse) == model.version:
        return
    warehouse.create(
        ACTIVE,
        pd.DataFrame({"model_version": [model.version], "model_id": [model.id]}),
        overwrite=True,
    )


def active_model(warehouse: Warehouse) -> StageModel | None:
    """The stage model whose history the workspace shows, rebuilt from its stored source."""
    version = active_version(warehouse)
    if version is None or not warehouse.has_table(MODELS):
        return None
    models = warehouse.table(MODELS)
    row = models.filter(models.model_version == version).execute()
    if row.empty:
        return None
    fmt = str(row.fmt.iloc[0])
    return parse_model(
        str(row.source.iloc[0]), filename=f"{row.model_id.iloc[0]}.{fmt}", fmt=fmt
    )


def stored_stages(warehouse: Warehouse, *, version: str, as_of: dt.date) -> pd.DataFrame:
    """Each customer's stage as of ``as_of`` in the saved history of ``version``."""
    if not warehouse.has_table(TRANSITIONS):
        return pd.DataFrame(columns=["customer_id", "stage"])
    t = warehouse.table(TRANSITIONS)
    state = latest_state(t.filter(t.model_version == version), before=as_of + dt.timedelta(days=1))
    return state.select("customer_id", "stage").execute()


def transition_matrix(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Counts of customers by (stage before, stage after), with a few example ids per cell."""
    merged = after[["customer_id", "stage"]].merge(
        before[["customer_id", "stage"]],
        on="customer_id",
        how="left",
        suffixes=("_after", "_before"),
    )
    merged = merged.sort_values("customer_id", kind="stable")
    grouped = merged.groupby(["stage_before", "stage_after"], dropna=False, sort=True)
    matrix = grouped.agg(
        customers=("customer_id", "size"),
        examples=("customer_id", lambda ids: list(ids[:EXAMPLES_PER_CELL])),
    ).reset_index()
    matrix = matrix.rename(columns={"stage_before": "from_stage", "stage_after": "to_stage"})
    matrix["from_stage"] = (
        matrix["from_stage"].astype(object).where(matrix["from_stage"].notna(), None)
    )
    return matrix.sort_values("customers", ascending=False, kind="stable").reset_index(drop=True)


def preview_model_change(
    warehouse: Warehouse,
    *,
    proposed: StageModel,
    as_of: dt.date,
    step: str = "month",
    progress=None,
) -> ModelDiff:
    """Build ``proposed``'s history in scratch tables and compare it with the active one."""
    scratch = StageHistory(
        warehouse, model=proposed, table=PREVIEW_TRANSITIONS, runs_table=PREVIEW_RUNS
    )
    scratch.clear()
    dates = plan_dates(scratch, as_of=as_of, step=step, start=data_start(warehouse))
    scratch.backfill(dates, progress=progress)
    after = (
        scratch.state_before(as_of + dt.timedelta(days=1)).select("customer_id", "stage").execute()
    )
    current = active_version(warehouse)
    before = (
        stored_stages(warehouse, version=current, as_of=as_of)
        if current
        else pd.DataFrame(columns=["customer_id", "stage"])
    )
    return ModelDiff(
        as_of=as_of,
        active_version=current,
        proposed_version=proposed.version,
        matrix=transition_matrix(before, after),
        customers=len(after),
    )


def save_model_change(warehouse: Warehouse, *, proposed: StageModel) -> int:
    """Replace ``proposed``'s saved history with the previewed one and make it active."""
    if not warehouse.has_table(PREVIEW_TRANSITIONS):
        raise NotFoundError("no preview to save: preview the model change first")
    preview = StageHistory(
        warehouse, model=proposed, table=PREVIEW_TRANSITIONS, runs_table=PREVIEW_RUNS
    )
    if not preview.evaluated_dates():
        raise NotFoundError(f"no preview of model version {proposed.version} to save")
    saved = StageHistory(warehouse, model=proposed)
    saved.clear()
    warehouse.insert(TRANSITIONS, preview.transitions())
    runs = warehouse.table(PREVIEW_RUNS)
    warehouse.insert(RUNS, runs.filter(runs.model_version == proposed.version))
    preview.clear()
    set_active(warehouse, proposed)
    return int(saved.transitions().count().execute())
