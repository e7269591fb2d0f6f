"""CSV and JSON-lines files into a DuckDB staging table, every value as text, every row numbered.

The fast path is DuckDB's parallel CSV reader (``all_varchar``, ``WITH ORDINALITY``). It numbers
records, not lines, so its numbers are used only when they provably equal physical lines: the
file has exactly one line per record (no quoted line breaks, no blank lines) and DuckDB rejected
no row. Otherwise the file is read again by Python's ``csv`` module, which tracks physical lines
and lets a row with the wrong number of fields be quarantined instead of failing the file. Real
exports almost always take the fast path; the slow one exists so that ``line`` is never wrong
and nothing is dropped.

JSON lines take the same two paths: DuckDB reads each line whole and extracts every key in one
parse (4.5 s for 5M lines here); Python's ``json`` is the fallback when DuckDB cannot split
the lines (a line over 100 MB, a stray control character).

Staging tables have a ``__clm_line`` BIGINT column followed by the file's headers as VARCHAR.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from clm.errors import DataFileError

LINE = "__clm_line"
DELIMITERS = (",", "\t", ";", "|")


@dataclass
class Staged:
    """A file read into the staging connection as table ``name``."""

    name: str
    headers: list[str]
    rows: int  # data rows read, malformed ones included
    malformed: list[dict[str, Any]] = field(default_factory=list)  # line, field, reason, code, raw
    # DuckDB type of a column that is not text (typed Parquet columns); absent means VARCHAR.
    types: dict[str, str] = field(default_factory=dict)


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def unique_headers(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(headers):
        h = h.strip() or f"column{i}"
        if h in seen:
            seen[h] += 1
            h = f"{h}_{seen[h]}"
        else:
            seen[h] = 0
        out.append(h)
    return out


def register_columns(con: duckdb.DuckDBPyConnection, name: str, headers: list[str],
              lines: list[int], columns: list[list[str | None]]) -> None:
    arrays = [pa.array(lines, pa.int64())] + [pa.array(c, pa.string()) for c in columns]
    table = pa.Table.from_arrays(arrays, names=[LINE, *headers])
    con.register(f"{name}_arrow", table)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(f"{name}_arrow")


def _raw_json(headers: list[str], values: list[str]) -> str:
    row: dict[str, Any] = dict(zip(headers, values, strict=False))
    for i, extra in enumerate(values[len(headers):], start=1):
        row[f"_extra_{i}"] = extra
    return json.dumps(row, ensure_ascii=False)


def csv_delimiter(path: Path) -> str:
    """The delimiter of a CSV, judged from its header line: the most frequent of , tab ; |.

    DuckDB's sniffer judges from the data rows, and one ragged row can make it settle on a
    single column; the header is what every export gets right, so it decides.
    """
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        header = next((line for line in fh if line.strip()), "")
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv_python(con: duckdb.DuckDBPyConnection, path: Path, *, name: str,
                     file: str) -> Staged:
    """Slow, exact path: Python's csv module, physical line numbers, ragged rows quarantined."""
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=csv_delimiter(path), quotechar='"', strict=False)
        header: list[str] | None = None
        for rec in reader:
            if any(v.strip() for v in rec):
                header = rec
                break
        if header is None:
            raise DataFileError(f"{file}: the file is empty (no header row)", file=file)
        headers = unique_headers(header)
        width = len(headers)
        lines: list[int] = []
        columns: list[list[str | None]] = [[] for _ in headers]
        malformed: list[dict[str, Any]] = []
        last = reader.line_num
        for rec in reader:
            start, last = last + 1, reader.line_num
            if not rec or not any(v.strip() for v in rec):
                continue
            if len(rec) != width:
                malformed.append({
                    "line": start, "field": "", "code": "malformed_row",
                    "reason": f"expected {width} fields, found {len(rec)}",
                    "raw": _raw_json(headers, rec),
                })
                continue
            lines.append(start)
            for col, value in zip(columns, rec, strict=True):
                col.append(value)
    register_columns(con, name, headers, lines, columns)
    return Staged(name=name, headers=headers, rows=len(lines) + len(malformed),
                  malformed=malformed)


def read_csv(con: duckdb.DuckDBPyConnection, path: Path, *, name: str, file: str,
             lines: int) -> Staged:
    """Read a UTF-8 CSV into staging table ``name``; ``lines`` is its physical line count."""
    if lines == 0:
        raise DataFileError(f"{file}: the file is empty (no header row)", file=file)
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {name} AS SELECT ordinality + 1 AS {LINE}, "
            "* EXCLUDE (ordinality) FROM read_csv(?, all_varchar=true, header=true, "
            "delim=?, quote='\"', escape='\"', ignore_errors=true, store_rejects=true, "
            "rejects_table='clm_rejects', rejects_scan='clm_rejects_scan') WITH ORDINALITY",
            [str(path), csv_delimiter(path)],
        )
        rows = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        rejected = con.execute("SELECT count(*) FROM clm_rejects").fetchone()[0]
    except duckdb.Error:
        rows, rejected = -1, -1  # the Python reader gives the precise complaint
    if rejected != 0 or rows + 1 != lines:
        return _read_csv_python(con, path, name=name, file=file)
    headers = [c for c in con.table(name).columns if c != LINE]
    return Staged(name=name, headers=headers, rows=rows)


def read_json_lines(con: duckdb.DuckDBPyConnection, path: Path, *, name: str, file: str,
                    lines: int) -> Staged:
    """Read JSON lines (one object per line); a line that is not an object is quarantined.

    Values are kept as text (numbers as written, nested values as JSON); the columns are the
    union of all keys, in order of first appearance. DuckDB reads each line whole (the
    delimiter is a control character, which valid JSON cannot hold unescaped) and extracts
    all keys in one parse per line; when record and line numbers could differ (blank lines)
    the file is read by Python instead, which counts every line.
    """
    staged = _read_json_lines_duckdb(con, path, name=name, lines=lines)
    return staged if staged is not None else _read_json_lines_python(con, path, name=name)


def _json_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _read_json_lines_duckdb(con: duckdb.DuckDBPyConnection, path: Path, *, name: str,
                            lines: int) -> Staged | None:
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE clm_json_lines AS SELECT ordinality AS line, j "
            "FROM read_csv(?, columns={'j': 'VARCHAR'}, header=false, delim='\x01', quote='', "
            "escape='', auto_detect=false, max_line_size=100000000) WITH ORDINALITY",
            [str(path)],
        )
    except duckdb.Error:
        return None
    count = con.execute("SELECT count(*) FROM clm_json_lines").fetchone()[0]
    if count != lines:
        return None
    con.execute("CREATE OR REPLACE TEMP TABLE clm_json_ok AS SELECT line, j FROM clm_json_lines "
                "WHERE json_valid(j) AND json_type(j) = 'OBJECT'")
    bad = con.execute(
        "SELECT line, CASE WHEN json_valid(j) THEN 'not a JSON object' ELSE 'not valid JSON' END, "
        "j FROM clm_json_lines WHERE NOT json_valid(j) OR json_type(j) <> 'OBJECT' ORDER BY line"
    ).fetchall()
    malformed = [{"line": line, "field": "", "code": "malformed_row", "reason": reason,
                  "raw": json.dumps({"_line": text}, ensure_ascii=False)}
                 for line, reason, text in bad]
    keys = [row[0] for row in con.execute(
        "SELECT k FROM (SELECT line, unnest(json_keys(j)) AS k, "
        "unnest(range(len(json_keys(j)))) AS pos FROM clm_json_ok) "
        "GROUP BY k ORDER BY min(line * 100000 + pos)"
    ).fetchall()]
    headers = unique_headers(keys)
    paths = "[" + ", ".join(sql_str(_json_path(k)) for k in keys) + "]"
    columns = ", ".join(f"x[{i}] AS {ident(h)}" for i, h in enumerate(headers, start=1))
    select = f"SELECT line AS {LINE}{', ' + columns if columns else ''}"
    con.execute(f"CREATE OR REPLACE TABLE {name} AS {select} FROM "
                f"(SELECT line, json_extract_string(j, {paths}) AS x FROM clm_json_ok)"
                if keys else f"CREATE OR REPLACE TABLE {name} AS {select} FROM clm_json_ok")
    con.execute("DROP TABLE clm_json_lines")
    con.execute("DROP TABLE clm_json_ok")
    rows = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    return Staged(name=name, headers=headers, rows=rows + len(malformed), malformed=malformed)


def _read_json_lines_python(con: duckdb.DuckDBPyConnection, path: Path, *,
                            name: str) -> Staged:
    headers: list[str] = []
    index: dict[str, int] = {}
    records: list[tuple[int, dict[str, Any]]] = []
    malformed: list[dict[str, Any]] = []
    with path.open("r", encoding="utf-8-sig") as fh:
        for lineno, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError:
                malformed.append({"line": lineno, "field": "", "code": "malformed_row",
                                  "reason": "not valid JSON",
                                  "raw": json.dumps({"_line": text.rstrip("\r\n")},
                                                    ensure_ascii=False)})
                continue
            if not isinstance(obj, dict):
                malformed.append({"line": lineno, "field": "", "code": "malformed_row",
                                  "reason": "not a JSON object",
                                  "raw": json.dumps({"_line": text.rstrip("\r\n")},
                                                    ensure_ascii=False)})
                continue
            for key in obj:
                if key not in index:
                    index[key] = len(headers)
                    headers.append(key)
            records.append((lineno, obj))
    return _stage_records(con, records, headers=headers, name=name, malformed=malformed)


def read_json_array(con: duckdb.DuckDBPyConnection, path: Path, *, name: str,
                    file: str) -> Staged:
    """Read a ``.json`` file holding one array of objects; ``line`` is the record number."""
    try:
        data = json.loads(path.read_text("utf-8-sig"))
    except ValueError as exc:
        raise DataFileError(f"{file}: not valid JSON: {exc}", file=file) from None
    if not isinstance(data, list):
        raise DataFileError(f"{file}: expected a JSON array of objects", file=file)
    headers: list[str] = []
    records: list[tuple[int, dict[str, Any]]] = []
    malformed: list[dict[str, Any]] = []
    for number, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            malformed.append({"line": number, "field": "", "code": "malformed_row",
                              "reason": "not a JSON object",
                              "raw": json.dumps({"_value": obj}, ensure_ascii=False)})
            continue
        headers.extend(k for k in obj if k not in headers)
        records.append((number, obj))
    return _stage_records(con, records, headers=headers, name=name, malformed=malformed)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _stage_records(con: duckdb.DuckDBPyConnection, records: list[tuple[int, dict[str, Any]]],
                   *, headers: list[str], name: str, malformed: list[dict[str, Any]]) -> Staged:
    lines = [line for line, _ in records]
    columns = [[_text(obj.get(h)) for _, obj in records] for h in headers]
    register_columns(con, name, headers, lines, columns)
    return Staged(name=name, headers=headers, rows=len(records) + len(malformed),
                  malformed=malformed)
