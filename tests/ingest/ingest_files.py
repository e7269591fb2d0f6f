"""Factories for ingest tests: small data files written into ``tmp_path``, in any format.

Named ``ingest_files`` (not ``factories``) so it cannot shadow another layer's helpers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from clm.ingest import FileReport

Row = Sequence[object]


def write_csv(path: Path, header: Row, rows: Sequence[Row], *, encoding: str = "utf-8") -> Path:
    """Write a CSV with Python's csv module (quotes where needed) in ``encoding``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_jsonl(path: Path, records: Sequence[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def write_xlsx(path: Path, header: Row, rows: Sequence[Row], *, sheet: str = "Sheet1") -> Path:
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = sheet
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    book.save(path)
    return path


def write_parquet(path: Path, columns: dict[str, list]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path)
    return path


CUSTOMER_HEADER = ("customer_id", "name")


def customers_csv(folder: Path, ids: Sequence[str] = ("C1", "C2", "C3")) -> Path:
    return write_csv(folder / "customers.csv", CUSTOMER_HEADER, [(i, f"name {i}") for i in ids])


def assert_balanced(report: FileReport) -> None:
    """Nothing lost: every row read was either imported or quarantined."""
    assert report.read == report.imported + report.quarantined
    assert report.imported == report.added + report.updated + report.unchanged
    assert report.quarantine.num_rows == report.quarantined
