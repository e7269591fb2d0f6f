"""Loading accepted rows into a DuckDB warehouse straight from the staging Parquet file.

The warehouse reads the file itself (``read_parquet``), so the rows never become Python
objects or one Arrow table: the 20M orders of the benchmark stream from disk into the table,
and DuckDB's memory limit bounds every step (what does not fit spills to ``<file>.tmp``).

The comparison with the stored rows is one left join written into a temporary table that holds
only the rows to write (new keys, and known keys whose present columns differ), so
re-importing an unchanged 20M-row file writes nothing but that join. Then:

* a table with a cluster key (:meth:`clm.warehouse.Warehouse.cluster_key`) is rewritten in
  one statement, ordered: the stored rows minus the replaced ones, plus the new and changed
  rows. Inserting and then re-sorting would write the changed rows twice; this writes the
  table once, inside a transaction, so a failure leaves the previous table as it was.
  A first load into an empty table is a plain ``INSERT ... ORDER BY``;
* a table without one (customers) takes a DELETE of the replaced keys and an INSERT.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from clm.ingest.text_readers import ident, sql_str
from clm.warehouse import Warehouse

_CHANGES = "__clm_changes"


def _in_one_transaction(warehouse: Warehouse, statements: list[str]) -> None:
    with warehouse.transaction():
        for statement in statements:
            warehouse.con.con.execute(statement)


def load_parquet_duckdb(warehouse: Warehouse, *, table: str, path: Path, columns: list[str],
                        compared: Collection[str], absent: Collection[str], rows: int
                        ) -> tuple[int, int, int]:
    """Upsert the ``rows`` rows of Parquet file ``path`` into ``table``; see the module doc.

    ``columns`` are the table's columns in order (the file has the same names and types),
    ``compared`` the contract columns that decide whether a stored row changed, ``absent``
    those the input file lacked (a stored row keeps its values there).
    Returns ``(added, updated, unchanged)``.
    """
    con = warehouse.con.con  # the duckdb connection under Ibis
    target = ident(table)
    source = f"read_parquet({sql_str(str(path))})"
    names = ", ".join(ident(c) for c in columns)
    key = warehouse.cluster_key(table)
    order = f" ORDER BY {', '.join(key)}" if key else ""  # SQL expressions, quoted
    if not con.execute(f"SELECT EXISTS (SELECT 1 FROM {target})").fetchone()[0]:
        insert = f"INSERT INTO {target} ({names}) SELECT {names} FROM {source}{order}"
        _in_one_transaction(warehouse, [insert])
        return rows, 0, 0

    # A new key takes the file's values everywhere; a known key keeps its stored values in
    # the columns the file did not have.
    kept = ", ".join(
        f"CASE WHEN o.row_key IS NULL THEN n.{ident(c)} ELSE o.{ident(c)} END AS {ident(c)}"
        if c in absent else f"n.{ident(c)}"
        for c in columns
    )
    same = " AND ".join(f"n.{ident(c)} IS NOT DISTINCT FROM o.{ident(c)}" for c in compared)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_CHANGES} AS "
        f"SELECT {kept}, o.row_key IS NULL AS __added "
        f"FROM {source} n LEFT JOIN {target} o ON n.row_key = o.row_key "
        f"WHERE o.row_key IS NULL OR NOT ({same})"
    )
    try:
        added, changes = con.execute(
            f"SELECT count(*) FILTER (WHERE __added), count(*) FROM {_CHANGES}"
        ).fetchone()
        if changes:
            if key:
                statements = [
                    f"CREATE OR REPLACE TABLE {target} AS SELECT {names} FROM ("
                    f"SELECT {names} FROM {target} t "
                    f"WHERE NOT EXISTS (SELECT 1 FROM {_CHANGES} c WHERE c.row_key = t.row_key) "
                    f"UNION ALL SELECT {names} FROM {_CHANGES}){order}"
                ]
            else:
                statements = [
                    f"DELETE FROM {target} WHERE row_key IN "
                    f"(SELECT row_key FROM {_CHANGES} WHERE NOT __added)",
                    f"INSERT INTO {target} ({names}) SELECT {names} FROM {_CHANGES}",
                ]
            _in_one_transaction(warehouse, statements)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_CHANGES}")
    updated = changes - added
    return added, updated, rows - added - updated
