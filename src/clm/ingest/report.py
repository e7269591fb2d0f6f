"""What an import did: per-file counts, the quarantined rows, and the ``run.json`` shape.

The counts obey two invariants a user can check by hand: for every file
``read == imported + quarantined`` (nothing is lost), and
``imported == added + updated + unchanged`` (every accepted row is new, changed an existing
row, or was already there exactly so). Re-importing a file therefore shows ``added == 0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import pandas as pd
import pyarrow as pa

QUARANTINE_COLUMNS = ("file", "line", "field", "reason", "raw")


QUARANTINE_SCHEMA = pa.schema([
    ("file", pa.string()),
    ("table", pa.string()),
    ("line", pa.int64()),
    ("field", pa.string()),
    ("code", pa.string()),
    ("reason", pa.string()),
    ("raw", pa.string()),
])
"""Quarantined rows: where the row was, which field failed, why, and the row as it was read.

``raw`` is a JSON object of the original row (every column as text, ``ensure_ascii=False``), so
the user can fix and re-import it; ``code`` is the stable reason code (``missing_required``,
``invalid_date``, ``invalid_number``, ``unknown_value``, ``below_minimum``,
``unknown_customer``, ``duplicate_key``, ``malformed_row``) that labels are translated from.
Kept as Arrow, not Python objects: a wholly rejected 20M-row file must not cost 20M objects.
"""


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else list(value) if isinstance(
        value, list) else value


def empty_quarantine() -> pa.Table:
    return QUARANTINE_SCHEMA.empty_table()


@dataclass
class FileReport:
    """Counts of one imported file."""

    file: str
    table: str
    format: str
    encoding: str | None  # detected (or configured) encoding of a text file; None otherwise
    read: int = 0
    imported: int = 0
    quarantined: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # contract column -> their header
    unmapped: list[str] = field(default_factory=list)  # their headers that fed no column
    quarantine: pa.Table = field(default_factory=empty_quarantine, repr=False)

    def to_json(self) -> dict[str, Any]:
        """This file's entry in ``run.json`` (everything but the quarantined rows)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)
                if f.name != "quarantine"}


@dataclass
class ImportReport:
    """The result of :func:`clm.ingest.import_folder`: one :class:`FileReport` per file."""

    files: list[FileReport] = field(default_factory=list)
    import_id: str = ""

    @property
    def quarantine(self) -> pa.Table:
        """All quarantined rows (:data:`QUARANTINE_SCHEMA`), files in import order."""
        return pa.concat_tables([empty_quarantine(), *(f.quarantine for f in self.files)])

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files)

    @property
    def imported(self) -> int:
        return sum(f.imported for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    def file(self, table: str) -> FileReport | None:
        """The report of ``table``'s file, if one was imported."""
        return next((f for f in self.files if f.table == table), None)

    def to_json(self) -> dict[str, Any]:
        """The ``run.json`` shape: ``{"files": [{"file", "table", "read", "imported", ...}]}``.

        Returns a JSON-serialisable ``dict``; quarantined rows are left out (they go to
        ``quarantine.csv`` via :func:`quarantine_frame`).
        """
        return {"import_id": self.import_id, "files": [f.to_json() for f in self.files]}


def quarantine_frame(report: ImportReport | FileReport) -> pd.DataFrame:
    """The quarantined rows as a frame with columns ``file, line, field, reason, raw``.

    Ordered by file (in import order) and line, ready to be written as ``quarantine.csv``.
    """
    table = report.quarantine.select(list(QUARANTINE_COLUMNS))
    return table.to_pandas()
