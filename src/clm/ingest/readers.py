"""Finding a table's file in the data folder and reading any supported format into staging.

Formats and what ``line`` means for each (documented in ``docs/data-contract.md``):

============ =================================================================
``.csv``     physical line in the file; the header is line 1, the first row 2
``.xlsx``    the Excel row number shown at the left of the sheet
``.jsonl``   physical line in the file (blank lines are skipped but counted)
``.json``    a JSON array: the record's position, first record 1; else as jsonl
``.parquet`` row index + 1
============ =================================================================

Excel is read with openpyxl in read-only mode: DuckDB's ``excel`` extension is not bundled
with the wheel and would have to be downloaded at run time, which an offline install cannot do.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from clm.config import IngestConfig
from clm.domain.contract import TABLES
from clm.errors import DataFileError
from clm.ingest.encoding import prepare_text
from clm.ingest.text_readers import (
    LINE,
    Staged,
    ident,
    read_csv,
    read_json_array,
    read_json_lines,
    register_columns,
    unique_headers,
)

EXTENSIONS = (".csv", ".xlsx", ".parquet", ".jsonl", ".json")
# Scalar Parquet types kept as they are in staging (dates, times, numbers, booleans).
_KEEP_TYPE = re.compile(
    r"^(DATE|TIMESTAMP(_S|_MS|_NS)?|DOUBLE|FLOAT|DECIMAL\(\d+,\d+\)|(U?(TINY|SMALL|BIG|HUGE)?INT"
    r"(EGER)?)|BOOLEAN)$"
)


@dataclass(frozen=True)
class ReadResult:
    staged: Staged
    format: str  # csv | xlsx | parquet | jsonl | json
    encoding: str | None  # text formats only


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".ndjson":
        return "jsonl"
    if suffix.lstrip(".") in ("csv", "xlsx", "parquet", "jsonl", "json"):
        return suffix.lstrip(".")
    raise DataFileError(
        f"{path.name}: unsupported file type {suffix or '(none)'}; use "
        + ", ".join(EXTENSIONS),
        file=path.name,
    )


def find_table_files(data_dir: Path, *, ingest: IngestConfig) -> dict[str, Path]:
    """The file of each table present in ``data_dir`` (``customers`` is required).

    A table's file is ``ingest.files[table]`` if configured (then it must exist), else the one
    ``<table>.<ext>`` in the folder (file names compared case-insensitively). Two candidates
    for one table are an error rather than a silent pick.
    """
    if not data_dir.is_dir():
        raise DataFileError(f"{data_dir}: data folder not found", file=str(data_dir))
    by_name = {p.name.lower(): p for p in data_dir.iterdir() if p.is_file()}
    found: dict[str, Path] = {}
    for table in TABLES:
        configured = ingest.files.get(table)
        if configured:
            path = data_dir / configured
            if not path.is_file():
                raise DataFileError(
                    f"{path}: file for {table} (ingest.files.{table} in clm.toml) not found",
                    file=str(path),
                )
            found[table] = path
            continue
        hits = [by_name[f"{table}{ext}"] for ext in EXTENSIONS if f"{table}{ext}" in by_name]
        if len(hits) > 1:
            names = ", ".join(p.name for p in hits)
            raise DataFileError(
                f"{data_dir}: several files for {table} ({names}); keep one or set "
                f"ingest.files.{table} in clm.toml",
                file=str(data_dir),
            )
        if hits:
            found[table] = hits[0]
    if "customers" not in found:
        looked = ", ".join(f"customers{ext}" for ext in EXTENSIONS)
        raise DataFileError(
            f"{data_dir}: no customers file (looked for {looked})", file=str(data_dir)
        )
    return found


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_xlsx(con: duckdb.DuckDBPyConnection, path: Path, *, name: str, file: str,
              table: str) -> Staged:
    """Read the sheet named ``table`` (else the first sheet); the first non-empty row is the header.

    Date cells arrive as ``datetime`` (openpyxl applies the cell's number format) and are
    written as ISO text; integral numbers lose the ``.0`` Excel stores them with, so an id
    typed as 1001 stays ``1001``. Fully empty rows are skipped, not counted as read.
    """
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException
        raise DataFileError(f"{file}: not a readable .xlsx workbook ({exc})", file=file) from None
    try:
        sheet = book[table] if table in book.sheetnames else book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        headers: list[str] | None = None
        lines: list[int] = []
        columns: list[list[str | None]] = []
        for number, values in enumerate(rows, start=1):
            texts = [_cell_text(v) for v in values]
            if not any(t is not None and t.strip() for t in texts):
                continue
            if headers is None:
                while texts and texts[-1] is None:
                    texts.pop()
                headers = unique_headers([t or "" for t in texts])
                columns = [[] for _ in headers]
                continue
            lines.append(number)
            for i, col in enumerate(columns):
                col.append(texts[i] if i < len(texts) else None)
    finally:
        book.close()
    if headers is None:
        raise DataFileError(f"{file}: the sheet is empty (no header row)", file=file)
    register_columns(con, name, headers, lines, columns)
    return Staged(name=name, headers=headers, rows=len(lines))


def read_parquet(con: duckdb.DuckDBPyConnection, path: Path, *, name: str, file: str) -> Staged:
    """Read a Parquet file, keeping typed columns typed (timestamps with a zone as UTC).

    A typed Parquet export (the benchmark's 20M orders) would otherwise pay a round trip
    through text for every timestamp and amount; validation uses a column's type when it
    already is the contract's, and casts to text otherwise (an integer id becomes ``1001``).
    Nested values (lists, structs, maps) become text.
    """
    try:
        described = con.execute(
            "DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]
        ).fetchall()
    except duckdb.Error as exc:
        raise DataFileError(f"{file}: not a readable Parquet file ({exc})", file=file) from None
    headers = [row[0] for row in described]
    casts = []
    types: dict[str, str] = {}
    for column, type_name in ((row[0], row[1]) for row in described):
        expr = ident(column)
        if type_name.startswith("TIMESTAMP WITH TIME ZONE"):
            expr, type_name = f"({expr} AT TIME ZONE 'UTC')", "TIMESTAMP"
        if type_name == "VARCHAR" or not _KEEP_TYPE.match(type_name):
            casts.append(f"CAST({expr} AS VARCHAR) AS {ident(column)}")
        else:
            casts.append(f"{expr} AS {ident(column)}")
            types[column] = type_name
    con.execute(
        f"CREATE OR REPLACE TABLE {name} AS SELECT file_row_number + 1 AS {LINE}, "
        f"{', '.join(casts)} FROM read_parquet(?, file_row_number=true)",
        [str(path)],
    )
    rows = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    return Staged(name=name, headers=headers, rows=rows, types=types)


def _is_json_array(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def read_file(con: duckdb.DuckDBPyConnection, path: Path, *, table: str, file: str,
              encoding: str, workdir: Path, name: str = "raw") -> ReadResult:
    """Read ``path`` (any supported format) into staging table ``name``."""
    fmt = file_format(path)
    if not path.is_file():
        raise DataFileError(f"{path}: file not found", file=file)
    if fmt == "xlsx":
        return ReadResult(read_xlsx(con, path, name=name, file=file, table=table), fmt, None)
    if fmt == "parquet":
        return ReadResult(read_parquet(con, path, name=name, file=file), fmt, None)
    text = prepare_text(path, encoding=encoding, workdir=workdir)
    if fmt == "csv":
        staged = read_csv(con, text.path, name=name, file=file, lines=text.lines)
    elif fmt == "json" and _is_json_array(text.path):
        staged = read_json_array(con, text.path, name=name, file=file)
    else:
        staged = read_json_lines(con, text.path, name=name, file=file, lines=text.lines)
    return ReadResult(staged, fmt, text.encoding)
