"""Which header of a user's file feeds which contract column.

Three sources are consulted, in this order, each on the folded header
(:func:`clm.ingest.synonyms.normalize_label`, so case, spaces, ``_``/``-`` and full-width forms
do not matter):

1. the project's ``[ingest.columns.<table>]`` mapping in ``clm.toml`` (their header -> ours);
2. the contract column name itself (``customer_id``, ``Customer ID``);
3. the built-in synonyms (``客户ID``, ``下单时间``, ``金额`` ...).

When two headers of one file claim the same contract column, the earlier source wins (config
over exact name over synonym) and, within a source, the leftmost header. Headers that feed no
column are reported as ``unmapped`` rather than dropped silently; they stay in the quarantine's
raw rows. A required column that nothing maps onto is a :class:`~clm.errors.DataFileError`
naming the file, the column and the headers that were found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from clm.domain.contract import TABLES
from clm.errors import ConfigError, DataFileError
from clm.ingest.synonyms import HEADER_SYNONYMS, normalize_label


@dataclass(frozen=True)
class ColumnMapping:
    """The resolved mapping of one file: contract column -> the file's header."""

    table: str
    sources: dict[str, str]  # contract column -> header in the file
    unmapped: tuple[str, ...]  # headers of the file that feed no contract column

    def source(self, column: str) -> str | None:
        return self.sources.get(column)


def _config_lookup(table: str, config_columns: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    contract = TABLES[table]
    lookup: dict[str, str] = {}
    for theirs, ours in config_columns.get(table, {}).items():
        if ours not in contract.column_names:
            raise ConfigError(
                f"[ingest.columns.{table}] maps {theirs!r} to {ours!r}, which is not a column of "
                f"{table}; columns are {', '.join(contract.column_names)}",
                field=f"ingest.columns.{table}.{theirs}",
            )
        lookup[normalize_label(theirs)] = ours
    return lookup


def _builtin_lookup(table: str) -> tuple[dict[str, str], dict[str, str]]:
    exact = {normalize_label(c): c for c in TABLES[table].column_names}
    synonyms: dict[str, str] = {}
    for column, spellings in HEADER_SYNONYMS.get(table, {}).items():
        for spelling in spellings:
            synonyms.setdefault(normalize_label(spelling), column)
    return exact, synonyms


def resolve_columns(
    headers: Sequence[str],
    *,
    table: str,
    file: str,
    config_columns: Mapping[str, Mapping[str, str]] | None = None,
) -> ColumnMapping:
    """Map the headers of one file onto the contract columns of ``table``.

    Raises
    ------
    DataFileError
        A required column of the contract has no header; the message names the file, the
        column and lists the headers found, so the user can add a ``clm.toml`` mapping.
    ConfigError
        The config maps a header onto a column the table does not have.
    """
    contract = TABLES[table]
    from_config = _config_lookup(table, config_columns or {})
    exact, synonyms = _builtin_lookup(table)

    sources: dict[str, str] = {}
    used: set[str] = set()
    for lookup in (from_config, exact, synonyms):
        for header in headers:
            if header in used:
                continue
            column = lookup.get(normalize_label(header))
            if column is not None and column not in sources:
                sources[column] = header
                used.add(header)

    missing = [c for c in contract.required if c not in sources]
    if missing:
        found = ", ".join(repr(h) for h in headers) or "none"
        column = missing[0]
        raise DataFileError(
            f"{file}: required column {column!r} of {table} not found (headers found: {found}); "
            f"rename the header or map it in clm.toml under [ingest.columns.{table}]",
            file=file,
            field=column,
        )
    # Keep the file's order for the report.
    unmapped = tuple(h for h in headers if h not in used)
    ordered = {c: sources[c] for c in contract.column_names if c in sources}
    return ColumnMapping(table=table, sources=ordered, unmapped=unmapped)
