"""Writing validated rows and quarantined rows into the warehouse, idempotently.

Accepted rows are compared with what the warehouse already holds under the same ``row_key``
(a left join computed *in the warehouse*, so 20M existing rows never travel back to Python):
a row whose key is new is *added*, one whose contract columns differ is *updated*, one that
is identical is *unchanged* and not written at all. Only added and updated rows are upserted,
so re-importing a file writes nothing and a later export costs only its new and changed rows.
An empty table (the first import) skips the comparison and takes a plain insert.

Quarantined rows go to the warehouse table ``quarantine``; the rows of a (table, file) pair
are replaced on every import of that file, so a re-import never duplicates them and a row
fixed in the new export leaves the quarantine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import ibis
import ibis.expr.datatypes as dtypes
import pyarrow as pa
import sqlglot as sg
import sqlglot.expressions as sge

from clm.domain.contract import TABLES
from clm.warehouse import Warehouse

QUARANTINE_TABLE = "quarantine"
QUARANTINE_WAREHOUSE_SCHEMA = ibis.schema({
    "table": dtypes.string,
    "file": dtypes.string,
    "line": dtypes.int64,
    "field": dtypes.string,
    "code": dtypes.string,
    "reason": dtypes.string,
    "raw": dtypes.string,
    "import_id": dtypes.string,
    "imported_at": dtypes.timestamp,
})
_OLD = "__old_"


def _execute(warehouse: Warehouse, expr: sge.Expression) -> None:
    """Run a statement the Ibis API has no verb for (DELETE), committing where needed."""
    con: Any = warehouse.con
    safe = getattr(con, "_safe_raw_sql", None)
    if safe is not None:
        with safe(expr):
            return
    con.raw_sql(expr)  # pragma: no cover - every SQL backend has _safe_raw_sql today


def load_rows(warehouse: Warehouse, *, table: str, rows: pa.Table,
              absent: Collection[str] = ()) -> tuple[int, int, int]:
    """Upsert accepted ``rows`` (canonical schema) into ``table``.

    ``absent`` names contract columns the file did not have: an existing row keeps its stored
    values there (an export of ``customer_id`` and ``owner`` reassigns owners without erasing
    names; an orders export without ``status`` does not turn refunds back into ``paid``), and
    they take no part in deciding whether the row changed.

    Returns ``(added, updated, unchanged)``.
    """
    warehouse.ensure_input_tables()
    if rows.num_rows == 0:
        return 0, 0, 0
    target = warehouse.table(table)
    if int(target.count().execute()) == 0:
        warehouse.insert(table, rows)
        return rows.num_rows, 0, 0

    contract = TABLES[table]
    columns = contract.column_names
    new = ibis.memtable(rows)
    old = target.select(
        **{f"{_OLD}row_key": target.row_key}, **{f"{_OLD}{c}": target[c] for c in columns}
    )
    joined = new.left_join(old, new.row_key == old[f"{_OLD}row_key"])
    is_new = joined[f"{_OLD}row_key"].isnull()
    present = [c for c in columns if c not in absent]
    same = ibis.and_(*(joined[c].identical_to(joined[f"{_OLD}{c}"]) for c in present))
    counts = joined.aggregate(
        added=is_new.sum(), unchanged=(~is_new & same).sum(), n=joined.count()
    ).execute()
    added = int(counts["added"].iloc[0] or 0)
    unchanged = int(counts["unchanged"].iloc[0] or 0)
    updated = int(counts["n"].iloc[0]) - added - unchanged
    # Both sets are read before anything is written. New keys take a plain insert (cheaper
    # than a MERGE); only changed rows are upserted.
    new_rows = joined.filter(is_new).select(*rows.column_names).to_pyarrow() if added else None
    kept = {c: joined[f"{_OLD}{c}"] if c in absent else joined[c] for c in rows.column_names}
    changed = joined.filter(~is_new & ~same).select(**kept).to_pyarrow() if updated else None
    if new_rows is not None:
        warehouse.insert(table, new_rows)
    if changed is not None:
        warehouse.upsert(table, changed, on="row_key")
    return added, updated, unchanged


def replace_quarantine(warehouse: Warehouse, *, table: str, file: str, rows: pa.Table,
                       import_id: str, imported_at: dt.datetime) -> None:
    """Replace the quarantined rows of (``table``, ``file``) with ``rows``."""
    if not warehouse.has_table(QUARANTINE_TABLE):
        warehouse.create(QUARANTINE_TABLE, None, schema=QUARANTINE_WAREHOUSE_SCHEMA)
    else:
        target = sg.table(QUARANTINE_TABLE, db=warehouse.database, quoted=True)
        where = sg.and_(
            sg.column("table", quoted=True).eq(sge.convert(table)),
            sg.column("file", quoted=True).eq(sge.convert(file)),
        )
        _execute(warehouse, sge.delete(target, where=where))
    if rows.num_rows == 0:
        return
    n = rows.num_rows
    out = pa.table({
        "table": rows["table"],
        "file": rows["file"],
        "line": rows["line"],
        "field": rows["field"],
        "code": rows["code"],
        "reason": rows["reason"],
        "raw": rows["raw"],
        "import_id": pa.array([import_id] * n, pa.string()),
        "imported_at": pa.array([imported_at] * n, pa.timestamp("us")),
    })
    warehouse.insert(QUARANTINE_TABLE, out)
