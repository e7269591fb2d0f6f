"""Writing validated rows and quarantined rows into the warehouse, idempotently.

Accepted rows arrive as a Parquet file written by the staging DuckDB, never as one in-memory
table (20M orders as Arrow cost gigabytes). They are compared with what the warehouse already
holds under the same ``row_key`` (a left join computed *in the warehouse*, so 20M existing rows
never travel back to Python): a row whose key is new is *added*, one whose contract columns
differ is *updated*, one that is identical is *unchanged* and not written at all. Only added
and updated rows are written, so re-importing a file writes nothing and a later export costs
only its new and changed rows. An empty table (the first import) skips the comparison.

A DuckDB warehouse reads the file itself and keeps the fact tables ordered
(:mod:`.load_duckdb`); any other backend receives the file in batches of ``BATCH_ROWS`` into
a scratch table, and the comparison and upsert run there as Ibis expressions.

Quarantined rows go to the warehouse table ``quarantine``; the rows of a (table, file) pair
are replaced on every import of that file, so a re-import never duplicates them and a row
fixed in the new export leaves the quarantine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dtypes
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot as sg
import sqlglot.expressions as sge

from clm.domain.contract import TABLES
from clm.ingest.load_duckdb import load_parquet_duckdb
from clm.warehouse import Warehouse, canonical_schema

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
_INCOMING = "__clm_incoming_"  # scratch table of a non-DuckDB load, replaced on every load
BATCH_ROWS = 250_000  # rows per insert of a non-DuckDB load: bounded memory, few round trips


def _execute(warehouse: Warehouse, expr: sge.Expression) -> None:
    """Run a statement the Ibis API has no verb for (DELETE), committing where needed."""
    con: Any = warehouse.con
    safe = getattr(con, "_safe_raw_sql", None)
    if safe is not None:
        with safe(expr):
            return
    con.raw_sql(expr)  # pragma: no cover - every SQL backend has _safe_raw_sql today


def load_rows(warehouse: Warehouse, *, table: str, path: Path,
              absent: Collection[str] = ()) -> tuple[int, int, int]:
    """Upsert the accepted rows in Parquet file ``path`` (canonical schema) into ``table``.

    ``absent`` names contract columns the file did not have: an existing row keeps its stored
    values there (an export of ``customer_id`` and ``owner`` reassigns owners without erasing
    names; an orders export without ``status`` does not turn refunds back into ``paid``), and
    they take no part in deciding whether the row changed.

    Returns ``(added, updated, unchanged)``.
    """
    warehouse.ensure_input_tables()
    rows = pq.ParquetFile(path).metadata.num_rows
    if rows == 0:
        return 0, 0, 0
    columns = list(canonical_schema(TABLES[table]).names)
    compared = [c for c in TABLES[table].column_names if c not in absent]
    if warehouse.backend_name == "duckdb":
        return load_parquet_duckdb(warehouse, table=table, path=path, columns=columns,
                                   compared=compared, absent=absent, rows=rows)
    return _load_batches(warehouse, table=table, path=path, columns=columns,
                         compared=compared, absent=absent, rows=rows)


def _batches(path: Path) -> Iterator[pa.Table]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
        yield pa.Table.from_batches([batch])


def _load_batches(warehouse: Warehouse, *, table: str, path: Path, columns: list[str],
                  compared: Collection[str], absent: Collection[str], rows: int
                  ) -> tuple[int, int, int]:
    """Any other backend: the file goes up in batches, and the comparison runs there."""
    if int(warehouse.table(table).count().execute()) == 0:
        for batch in _batches(path):
            warehouse.insert(table, batch)
        return rows, 0, 0
    scratch = f"{_INCOMING}{table}"
    warehouse.create(scratch, schema=canonical_schema(TABLES[table]), overwrite=True)
    try:
        for batch in _batches(path):
            warehouse.insert(scratch, batch)
        return _upsert_from(warehouse, table=table, new=warehouse.table(scratch),
                            columns=columns, compared=compared, absent=absent, rows=rows)
    finally:
        warehouse.drop(scratch)


def _upsert_from(warehouse: Warehouse, *, table: str, new: ir.Table, columns: list[str],
                 compared: Collection[str], absent: Collection[str], rows: int
                 ) -> tuple[int, int, int]:
    target = warehouse.table(table)
    old = target.select(
        **{f"{_OLD}row_key": target.row_key},
        **{f"{_OLD}{c}": target[c] for c in TABLES[table].column_names},
    )
    joined = new.left_join(old, new.row_key == old[f"{_OLD}row_key"])
    is_new = joined[f"{_OLD}row_key"].isnull()
    same = ibis.and_(*(joined[c].identical_to(joined[f"{_OLD}{c}"]) for c in compared))
    counts = joined.aggregate(added=is_new.sum(), unchanged=(~is_new & same).sum()).execute()
    added = int(counts["added"].iloc[0] or 0)
    unchanged = int(counts["unchanged"].iloc[0] or 0)
    updated = rows - added - unchanged
    # Both sets are statements inside the warehouse: no row comes back to Python. Changed
    # rows first, so the inserted new keys cannot be taken for changed ones.
    if updated:
        kept = {c: joined[f"{_OLD}{c}"] if c in absent else joined[c] for c in columns}
        warehouse.upsert(table, joined.filter(~is_new & ~same).select(**kept), on="row_key")
    if added:
        warehouse.insert(table, joined.filter(is_new).select(*columns))
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
