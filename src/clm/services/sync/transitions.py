"""Stage transitions: the history, appended to and never rewritten.

A transition is identified by customer, date and model version (``uq_stage_transition``); one
the store already holds is kept as it is, so re-syncing a run's whole history adds only what is
new, and each model version keeps its own history.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
from sqlalchemy.orm import Session

from clm.errors import InputError
from clm.services.sync.columns import (
    customer_ids,
    first,
    reasons_column,
    refuse_unknown,
    text_column,
    typed,
)
from clm.store.bulk import insert_arrow, read_canonical
from clm.store.pipeline import Writes
from clm.store.tables import StageTransition

KINDS = {
    "customer_id": "text",
    "from_stage": "text",
    "to_stage": "text",
    "changed_on": "date",
    "reasons": "text",
    "model_version": "text",
}
_KEY = ("customer_id", "changed_on", "model_version")


def _key(rows: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(*(rows[c] for c in _KEY), "\x1f")


def _versions(transitions: pd.DataFrame, model_version: str) -> pa.Array:
    """Each transition's model version (the sync's where the frame leaves it empty)."""
    if "model_version" not in transitions:
        return pa.array([model_version] * len(transitions), pa.string())
    given = text_column(transitions["model_version"], "text")
    return pc.if_else(pc.equal(given, ""), model_version, given)


def read(session: Session, transitions: pd.DataFrame, *, model_version: str) -> pa.Table:
    """The keys of the stored transitions of the model versions the run brings."""
    versions = pc.unique(_versions(transitions, model_version)).to_pylist()
    if transitions.empty or not versions:
        return pa.table({c: pa.array([], pa.string()) for c in _KEY})
    table = StageTransition.__table__
    return read_canonical(
        session,
        select(*(table.c[c] for c in _KEY)).where(table.c.model_version.in_(versions)),
        {c: KINDS[c] for c in _KEY},
    )


def plan(
    transitions: pd.DataFrame, stored: pa.Table, *, model_version: str, known_ids: pa.Array
) -> pa.Table:
    """The run's transitions the store does not hold yet (``stored``: ``read``'s keys)."""
    if transitions.empty:
        return pa.table({c: pa.array([], pa.string()) for c in KINDS})
    ids = customer_ids(transitions, "transitions", unique=False)
    refuse_unknown(ids, known_ids, "transitions")
    src = transitions.reset_index(drop=True)
    n = len(ids)
    versions = _versions(src, model_version)
    rows = pa.table(
        {
            "customer_id": ids,
            "from_stage": text_column(src["from_stage"], "text"),
            "to_stage": text_column(src["to_stage"], "text"),
            "changed_on": text_column(src["changed_on"], "date"),
            "reasons": (
                reasons_column(src["reasons"])
                if "reasons" in src
                else pa.array([""] * n, pa.string())
            ),
            "model_version": versions,
        }
    )
    bad = first(pc.or_(pc.equal(rows["to_stage"], ""), pc.equal(rows["changed_on"], "")))
    if bad is not None:
        raise InputError(
            f"transitions row {bad + 1}: to_stage and changed_on are required",
            table="transitions",
            row=bad + 1,
            field="changed_on",
        )
    key = _key(rows)
    if len(pc.unique(key)) < len(key):  # the same transition twice: the last one counts
        last = ~pd.Series(key.to_numpy(zero_copy_only=False)).duplicated(keep="last").to_numpy()
        rows, key = rows.filter(pa.array(last)), key.filter(pa.array(last))
    if stored.num_rows:
        rows = rows.filter(pc.invert(pc.is_in(key, value_set=_key(stored).combine_chunks())))
    return rows


def write(writes: Writes, rows: pa.Table, *, run_id: str) -> None:
    if rows.num_rows:
        data = typed(rows, KINDS)
        writes.submit(
            "transitions",
            lambda s: insert_arrow(
                s, StageTransition.__table__, data, constants={"run_id": run_id}
            ),
        )
