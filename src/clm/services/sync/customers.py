"""Customers: which of the run's customers are new, which changed, and their audit JSON.

A customer's basic record follows the data contract's ``customers`` table; ``owner`` is matched
to a user (by login, else by name) to give ``owner_user_id``, which the task assignment uses.
Erased customers (``clm.services.consent.erase_customer``) keep their anonymised record: the
sync never writes their name, phone or e-mail back.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
from sqlalchemy.orm import Session

from clm.services.sync.columns import (
    CUSTOMER_FIELDS,
    any_of,
    blank,
    customer_ids,
    differing,
    lookup,
    text_column,
    typed,
)
from clm.services.sync.jsontext import Piece, braces, json_members, json_values, member_pieces
from clm.store.bulk import insert_arrow, read_canonical, update_arrow
from clm.store.pipeline import Writes
from clm.store.tables import Customer, User

COLUMNS = list(CUSTOMER_FIELDS)
KINDS = {c: kind for c, (_source, kind) in CUSTOMER_FIELDS.items()}


@dataclass
class CustomerPlan:
    """What the run changes about customers (canonical text), and who owns every customer."""

    new: pa.Table
    changed: pa.Table
    changed_old: pa.Table
    changed_columns: dict[str, pa.Array]  # per column: which changed rows differ in it
    known_ids: pa.Array
    known_owner: pa.Array
    store_was_empty: bool


@dataclass
class StoredCustomers:
    """What the comparison needs from the store: every customer (canonical text) and the
    users an ``owner`` may name."""

    rows: pa.Table
    owner_keys: pa.Array  # a login or a user's name
    owner_ids: pa.Array  # that user's id, as text


def read(session: Session) -> StoredCustomers:
    """Read every stored customer and user (before any write of the sync)."""
    by_name: dict[str, int] = {}
    users = session.execute(select(User.id, User.login, User.name)).all()
    for uid, _login, name in users:
        by_name.setdefault(name, uid)
    owners = {**by_name, **{login: uid for uid, login, _name in users}}  # a login wins
    kinds = {"id": "text", **KINDS, "erased": "bool"}
    table = Customer.__table__
    return StoredCustomers(
        rows=read_canonical(session, select(*(table.c[c] for c in kinds)), kinds),
        owner_keys=pa.array(list(owners), pa.string()),
        owner_ids=pa.array([str(v) for v in owners.values()], pa.string()),
    )


def plan(customers: pd.DataFrame, stored: StoredCustomers) -> CustomerPlan:
    """Compare the run's customers with the stored ones."""
    ids = customer_ids(customers, "customers", unique=True)
    n = len(ids)
    incoming = {"id": ids}
    for col, (source, kind) in CUSTOMER_FIELDS.items():
        if col != "owner_user_id":
            incoming[col] = (
                text_column(customers[source], kind) if source in customers.columns else blank(n)
            )
    incoming["owner_user_id"] = lookup(incoming["owner"], stored.owner_keys, stored.owner_ids, "")
    inc = pa.table(incoming)

    existing = stored.rows
    position = pc.index_in(ids, value_set=existing["id"].combine_chunks())
    old = existing.take(position)
    is_new = pc.is_null(position)
    diffs = differing(inc, old, COLUMNS)
    erased = pc.fill_null(pc.equal(old["erased"], "1"), False)
    changed = pc.and_(
        pc.and_(pc.invert(is_new), pc.invert(erased)), any_of(list(diffs.values()), n)
    )

    kept = pc.invert(pc.is_in(existing["id"], value_set=ids))
    return CustomerPlan(
        new=inc.filter(is_new),
        changed=inc.filter(changed),
        changed_old=old.filter(changed),
        changed_columns={c: d.filter(changed) for c, d in diffs.items()},
        known_ids=pa.concat_arrays([existing["id"].filter(kept).combine_chunks(), ids]),
        known_owner=pa.concat_arrays(
            [existing["owner_user_id"].filter(kept).combine_chunks(), incoming["owner_user_id"]]
        ),
        store_was_empty=existing.num_rows == 0,
    )


def write(writes: Writes, plan: CustomerPlan) -> None:
    """Queue the inserts of new and the updates of changed customers."""
    table = Customer.__table__
    if plan.new.num_rows:
        rows = typed(plan.new, KINDS)
        writes.submit(
            "customers", lambda s: insert_arrow(s, table, rows, constants={"erased": False})
        )
    if plan.changed.num_rows:
        rows = typed(plan.changed, KINDS)
        writes.submit("customers", lambda s: update_arrow(s, table, rows, key="id"))


def new_pieces(plan: CustomerPlan) -> list[Piece]:
    """Each new customer's record as JSON members (no braces), for its ``create`` audit row."""
    return member_pieces({c: plan.new[c] for c in COLUMNS})


def update_audit(plan: CustomerPlan) -> pa.Table:
    """One ``update`` row per changed customer: before and after of the fields that differ."""
    present = plan.changed_columns
    old = {c: json_values(c, plan.changed_old[c].combine_chunks()) for c in COLUMNS}
    new = {c: json_values(c, plan.changed[c].combine_chunks()) for c in COLUMNS}
    ids = plan.changed["id"].combine_chunks()
    return audit_rows(
        "update",
        "customer",
        ids,
        braces(json_members(old, present)),
        braces(json_members(new, present)),
    )


def audit_rows(
    action: str | pa.Array, entity: str, ids: pa.Array, before: pa.Array | None, after: pa.Array
) -> pa.Table:
    """Audit rows about customers (``entity_id`` and ``customer_id`` are the customer's id)."""
    n = len(ids)
    actions = action if isinstance(action, pa.Array) else pa.array([action] * n, pa.string())
    return pa.table(
        {
            "action": actions,
            "entity": pa.array([entity] * n, pa.string()),
            "entity_id": ids,
            "customer_id": ids,
            "before": before if before is not None else pa.nulls(n, pa.string()),
            "after": after,
        }
    )
