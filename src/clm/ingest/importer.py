"""The two entry points: import one file, or a whole data folder in contract order.

Each file goes through the same steps, each owned by a module of this package:
read every value as text into a private in-process DuckDB (:mod:`.readers`), map the headers
onto the contract (:mod:`.mapping`), validate and convert in one vectorised statement
(:mod:`.validate`), then write accepted rows and the quarantine to the warehouse (:mod:`.load`).
The staging DuckDB is independent of the warehouse backend (DuckDB, PostgreSQL, ...), so the
same validation runs whatever the warehouse is, and its temporary files are removed afterwards.

Memory is bounded: the staging DuckDB gets the warehouse's memory limit
(``CLM_DUCKDB_MEMORY_LIMIT``) and spills to the import's temporary folder beyond it; the accepted
rows leave it as a Parquet file, never as one Arrow table in Python; and it is closed before the
warehouse loads the file, so only the warehouse's cache, not its working memory, coexists with
it. Importing the benchmark's 43M rows peaked at 8.5 GB before, 2.6 GB with a 2GB limit.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import duckdb
import pyarrow as pa

from clm.config import ProjectConfig
from clm.domain.contract import IMPORT_ORDER, TABLES
from clm.errors import DataFileError
from clm.ingest.load import load_rows, replace_quarantine
from clm.ingest.mapping import resolve_columns
from clm.ingest.readers import find_table_files, read_file
from clm.ingest.report import QUARANTINE_SCHEMA, FileReport, ImportReport
from clm.ingest.text_readers import LINE, ident, sql_str
from clm.ingest.validate import CHECKED, KNOWN_CUSTOMERS, validate
from clm.warehouse import Warehouse, canonical_schema

Progress = Callable[[str, int, int], None]
# DuckDB types of the warehouse columns (clm.warehouse.canonical_schema), by Ibis type.
_SQL_TYPES = {"string": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP",
              "float64": "DOUBLE", "int64": "BIGINT"}


def _known_customers(warehouse: Warehouse) -> pa.Table:
    warehouse.ensure_input_tables()
    return warehouse.table("customers").select("customer_id").to_pyarrow()


def _quarantine_rows(con: duckdb.DuckDBPyConnection, *, file: str, table: str, staged: str,
                     headers: list[str], malformed: list[dict]) -> pa.Table:
    """Rejected rows with their original values as a JSON object (keys in file order)."""
    raw = "json_object(" + ", ".join(
        f"{sql_str(h)}, CAST(r.{ident(h)} AS VARCHAR)" for h in headers) + ")"
    rejected = con.execute(
        f"SELECT ? AS file, ? AS \"table\", c.{LINE} AS line, c.__field AS field, "
        f"c.__code AS code, c.__reason AS reason, CAST({raw} AS VARCHAR) AS raw "
        f"FROM {CHECKED} c JOIN {ident(staged)} r USING ({LINE}) WHERE c.__check IS NOT NULL",
        [file, table],
    ).to_arrow_table().cast(QUARANTINE_SCHEMA)
    if malformed:
        extra = pa.Table.from_pylist(
            [{"file": file, "table": table, **m} for m in malformed], schema=QUARANTINE_SCHEMA
        )
        rejected = pa.concat_tables([rejected, extra])
    return rejected.sort_by("line")


def _staging(workdir: Path, *, memory_limit: str) -> duckdb.DuckDBPyConnection:
    """A private in-process DuckDB that spills to ``workdir`` beyond ``memory_limit``."""
    con = duckdb.connect(config={"memory_limit": memory_limit})
    con.execute(f"SET temp_directory = {sql_str(str(workdir))}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # the caller draws progress
    return con


def _write_accepted(con: duckdb.DuckDBPyConnection, *, table: str, file: str, out: Path) -> int:
    """Write the accepted rows, typed as in the warehouse, to Parquet file ``out``.

    DuckDB streams the rows to disk (no Arrow table of 20M rows in Python) in file order:
    CREATE TABLE AS and UPDATE keep insertion order, and so does COPY.
    """
    sources = {"source_file": sql_str(file), "source_line": LINE}
    columns = ", ".join(
        f"CAST({sources.get(name, ident(name))} AS {_SQL_TYPES[str(dtype)]}) AS {ident(name)}"
        for name, dtype in canonical_schema(TABLES[table]).items()
    )
    return con.execute(
        f"COPY (SELECT {columns} FROM {CHECKED} WHERE __check IS NULL) "
        f"TO {sql_str(str(out))} (FORMAT parquet)"
    ).fetchone()[0]


def _import(path: Path, *, table: str, file: str, warehouse: Warehouse, config: ProjectConfig,
            known: pa.Table | None, progress: Progress | None, import_id: str,
            imported_at: dt.datetime) -> FileReport:
    if table not in TABLES:
        raise DataFileError(
            f"{file}: unknown table {table!r}; tables are {', '.join(TABLES)}", file=file
        )
    contract = TABLES[table]
    with tempfile.TemporaryDirectory(prefix="clm-ingest-") as tmp:
        accepted = Path(tmp) / "accepted.parquet"
        # The staging connection is closed before the load, so it and the warehouse never
        # hold their working memory at the same time.
        with closing(_staging(Path(tmp), memory_limit=warehouse.memory_limit)) as con:
            result = read_file(con, path, table=table, file=file,
                               encoding=config.ingest.encoding, workdir=Path(tmp))
            staged = result.staged
            if progress:
                progress(table, 0, staged.rows)
            mapping = resolve_columns(staged.headers, table=table, file=file,
                                      config_columns=config.ingest.columns)
            if contract.references_customer:
                con.register(f"{KNOWN_CUSTOMERS}_arrow",
                             known if known is not None else _known_customers(warehouse))
                con.execute(f"CREATE TABLE {KNOWN_CUSTOMERS} AS "
                            f"SELECT DISTINCT customer_id FROM {KNOWN_CUSTOMERS}_arrow")
            validate(con, staged=staged.name, table=table, mapping=mapping,
                     customers_known=contract.references_customer,
                     excel_serial=result.format == "xlsx", types=staged.types)
            quarantine = _quarantine_rows(con, file=file, table=table, staged=staged.name,
                                          headers=staged.headers, malformed=staged.malformed)
            con.execute(f"DROP TABLE {staged.name}")  # peak memory: raw text, then typed rows
            imported = _write_accepted(con, table=table, file=file, out=accepted)
        absent = [c for c in contract.column_names if mapping.source(c) is None]
        added, updated, unchanged = load_rows(warehouse, table=table, path=accepted,
                                              absent=absent)
    replace_quarantine(warehouse, table=table, file=file, rows=quarantine,
                       import_id=import_id, imported_at=imported_at)
    if progress:
        progress(table, staged.rows, staged.rows)
    return FileReport(
        file=file, table=table, format=result.format, encoding=result.encoding,
        read=staged.rows, imported=imported, quarantined=quarantine.num_rows,
        added=added, updated=updated, unchanged=unchanged,
        columns=dict(mapping.sources), unmapped=list(mapping.unmapped), quarantine=quarantine,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def import_file(path: Path, *, table: str, warehouse: Warehouse, config: ProjectConfig,
                source_name: str | None = None,
                progress: Progress | None = None) -> FileReport:
    """Import one file into ``table`` of the warehouse.

    Parameters
    ----------
    path
        A ``.csv``, ``.xlsx``, ``.parquet``, ``.jsonl`` or ``.json`` file.
    table
        ``customers``, ``orders``, ``events`` or ``interactions``. Rows of the last three must
        reference a customer already in the warehouse.
    source_name
        The name the file is known by (``file`` in reports, quarantine and ``source_file``);
        defaults to ``path.name``. An upload page passes the uploaded file's name here.
    progress
        Called as ``progress(table, done_rows, total_rows)``.

    Raises
    ------
    DataFileError
        The file is missing, unreadable, in an unknown encoding, or lacks a required column.
    """
    return _import(Path(path), table=table, file=source_name or Path(path).name,
                   warehouse=warehouse, config=config, known=None, progress=progress,
                   import_id=uuid.uuid4().hex, imported_at=_now())


def import_folder(data_dir: Path, *, warehouse: Warehouse, config: ProjectConfig,
                  progress: Progress | None = None) -> ImportReport:
    """Import the data folder: ``customers`` (required), then orders, events, interactions.

    Files are found as ``<table>.{csv,xlsx,parquet,jsonl,json}`` or by
    ``[ingest.files]`` in ``clm.toml``; see :func:`clm.ingest.readers.find_table_files`.
    Re-importing the same folder adds nothing; a later export adds only its new rows and
    updates changed ones.
    """
    files = find_table_files(Path(data_dir), ingest=config.ingest)
    report = ImportReport(import_id=uuid.uuid4().hex)
    imported_at = _now()
    known: pa.Table | None = None
    for table in IMPORT_ORDER:
        if table not in files:
            continue
        if TABLES[table].references_customer and known is None:
            known = _known_customers(warehouse)
        report.files.append(_import(
            files[table], table=table, file=files[table].name, warehouse=warehouse,
            config=config, known=known, progress=progress, import_id=report.import_id,
            imported_at=imported_at,
        ))
    return report
