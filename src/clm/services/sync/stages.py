"""Current stages: which customers enter a stage, move, or only get new reasons.

A customer without a stored stage *enters* one; a stored stage that differs from the run's
*moves* (the event the playbook reacts to); any other difference (reasons, grey zone, model
version) is an update without consequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
from sqlalchemy.orm import Session

from clm.errors import InputError
from clm.services.sync.columns import (
    STAGE_FIELDS,
    any_of,
    blank,
    customer_ids,
    differing,
    first,
    lookup,
    reasons_column,
    refuse_unknown,
    text_column,
    typed,
)
from clm.services.sync.customers import audit_rows
from clm.services.sync.jsontext import Piece, braces, concat, member_pieces
from clm.store.bulk import insert_arrow, read_canonical, update_arrow
from clm.store.pipeline import Writes
from clm.store.tables import CustomerStage

FIELDS = list(STAGE_FIELDS)


@dataclass
class StagePlan:
    new: pa.Table
    changed: pa.Table
    changed_old: pa.Table
    moved: pa.Array  # per changed row: the stage itself differs
    entries: pa.Table  # customer_id, stage, from_stage (null on entry), stage_since, owner_user_id

    @property
    def movers(self) -> pa.Array:
        return self.changed["customer_id"].filter(self.moved).combine_chunks()


def _incoming(current: pd.DataFrame, model_version: str, ids: pa.Array) -> pa.Table:
    n = len(ids)
    src = current.reset_index(drop=True)
    columns = {"customer_id": ids}
    for col, kind in STAGE_FIELDS.items():
        if col == "model_version":
            columns[col] = pa.array([model_version] * n, pa.string())
        elif col not in src:
            columns[col] = pa.array(["0"] * n, pa.string()) if col == "grey_zone" else blank(n)
        elif col == "reasons":
            columns[col] = reasons_column(src[col])
        elif col == "grey_zone":
            flags = src[col] if src[col].dtype == bool else src[col].fillna(False)
            columns[col] = text_column(flags, kind)
        else:
            columns[col] = text_column(src[col], kind)
    empty = first(pc.equal(columns["stage"], ""))
    if empty is not None:
        raise InputError(
            f"current row {empty + 1}: stage is empty",
            table="current",
            row=empty + 1,
            field="stage",
        )
    return pa.table(columns)


def read(session: Session) -> pa.Table:
    """Every stored current stage, as canonical text."""
    table = CustomerStage.__table__
    kinds = {"customer_id": "text", **STAGE_FIELDS}
    return read_canonical(session, select(*(table.c[c] for c in kinds)), kinds)


def plan(
    current: pd.DataFrame,
    existing: pa.Table,
    *,
    model_version: str,
    known_ids: pa.Array,
    known_owner: pa.Array,
) -> StagePlan:
    """Compare the run's current stages with the stored ones (``read``)."""
    ids = customer_ids(current, "current", unique=True)
    refuse_unknown(ids, known_ids, "current")
    cur = _incoming(current, model_version, ids)
    position = pc.index_in(ids, value_set=existing["customer_id"].combine_chunks())
    old = existing.take(position)
    is_new = pc.is_null(position)
    changed = pc.and_(
        pc.invert(is_new), any_of(list(differing(cur, old, FIELDS).values()), len(ids))
    )
    new = cur.filter(is_new)
    changed_rows = cur.filter(changed)
    changed_old = old.filter(changed)
    moved = pc.not_equal(changed_rows["stage"], changed_old["stage"]).combine_chunks()
    movers = changed_rows.filter(moved)
    entry_ids = pa.concat_arrays(
        [new["customer_id"].combine_chunks(), movers["customer_id"].combine_chunks()]
    )
    entries = pa.table(
        {
            "customer_id": entry_ids,
            "stage": pa.concat_arrays(
                [new["stage"].combine_chunks(), movers["stage"].combine_chunks()]
            ),
            "from_stage": pa.concat_arrays(
                [
                    pa.nulls(new.num_rows, pa.string()),
                    changed_old["stage"].filter(moved).combine_chunks(),
                ]
            ),
            "stage_since": pa.concat_arrays(
                [new["stage_since"].combine_chunks(), movers["stage_since"].combine_chunks()]
            ),
            "owner_user_id": lookup(entry_ids, known_ids, known_owner, ""),
        }
    )
    return StagePlan(
        new=new, changed=changed_rows, changed_old=changed_old, moved=moved, entries=entries
    )


def write(writes: Writes, plan: StagePlan, *, run_id: str, as_of: date) -> None:
    """Queue the inserts of entered and the updates of changed stages."""
    table = CustomerStage.__table__
    stamp = {"run_id": run_id, "synced_on": as_of}
    if plan.new.num_rows:
        rows = typed(plan.new, STAGE_FIELDS)
        writes.submit("stages", lambda s: insert_arrow(s, table, rows, constants=stamp))
    if plan.changed.num_rows:
        rows = typed(plan.changed, STAGE_FIELDS)
        writes.submit(
            "stages", lambda s: update_arrow(s, table, rows, key="customer_id", constants=stamp)
        )


def member_pieces_of(rows: pa.Table) -> list[Piece]:
    """Each row's stage as JSON members (no braces), as pieces to join."""
    return member_pieces({c: rows[c] for c in FIELDS})


def members(rows: pa.Table) -> pa.Array:
    """Each row's stage as JSON members (no braces)."""
    return concat(member_pieces_of(rows), rows.num_rows)


def change_audit(plan: StagePlan, tasks: pa.Array) -> pa.Table:
    """One ``stage_change`` (or ``stage_update``) row per changed stage, before and after;
    ``tasks`` is each row's ``"tasks": {...}`` member or null."""
    ids = plan.changed["customer_id"].combine_chunks()
    after = pc.binary_join_element_wise(members(plan.changed), tasks, ", ", null_handling="skip")
    return audit_rows(
        pc.if_else(plan.moved, "stage_change", "stage_update"),
        "customer_stage",
        ids,
        braces(members(plan.changed_old)),
        braces(after),
    )
