"""Set-at-a-time reads and writes for the store, fast on PostgreSQL and correct on SQLite.

The stage sync moves up to a million rows per run (issue 4: 1M customers into PostgreSQL in
under 60 s). Building one ORM object per row costs far more than that, so large writes go
through here instead: ``COPY ... FROM STDIN`` on PostgreSQL (stack.md: 1.3 s per 1M rows, against
~100 s through INSERTs) and one ``executemany`` on SQLite. Values are passed as the text each
backend stores, in the same format SQLAlchemy's types use, so ORM reads see ordinary rows.

These helpers run inside the caller's transaction and never commit.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Boolean, Column, Date, DateTime, Integer, MetaData, Table
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.types import TypeEngine


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _sqlite_timestamp(value: object) -> str:
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.strftime("%Y-%m-%d %H:%M:%S.%f")


def _by_unique(values, missing, convert) -> list:
    """Convert each distinct value once (a sync's timestamps and dates repeat heavily)."""
    cache: dict = {}
    out = []
    for v, m in zip(values, missing, strict=True):
        if m:
            out.append(None)
            continue
        key = v if not isinstance(v, dict | list) else str(v)
        got = cache.get(key)
        if got is None:
            got = cache[key] = convert(v)
        out.append(got)
    return out


def _sqlite_column(series: pd.Series, type_: TypeEngine) -> list:
    """One column as the values SQLAlchemy's SQLite types store (NULL for missing and "")."""
    s = pd.Series(series.to_numpy(dtype=object, na_value=None), dtype=object)
    missing = (s.isna() | s.isin([""])).to_numpy()
    if isinstance(type_, DateTime):
        values = pd.Series(_by_unique(s.to_numpy(), missing, _sqlite_timestamp), dtype=object)
    elif isinstance(type_, Date):
        values = pd.Series(_by_unique(s.to_numpy(), missing, _date_text), dtype=object)
    elif isinstance(type_, Boolean):
        values = s.isin([True, 1, "1", "t", "true", "True"]).astype(int)
    elif isinstance(type_, Integer):
        values = pd.to_numeric(s.where(~missing, None), errors="coerce").astype("Int64")
        values = values.astype(object)
    else:
        values = s
    out = values.astype(object).tolist()
    return [None if m else v for v, m in zip(out, missing, strict=True)]


def _copy_text(frame: pd.DataFrame, columns: list[Column]) -> str:
    """``frame`` as CSV for ``COPY``: missing values and "" unquoted-empty (NULL)."""
    out = pd.DataFrame(index=frame.index)
    for col in columns:
        s = pd.Series(
            frame[col.name].to_numpy(dtype=object, na_value=None), index=frame.index, dtype=object
        )
        missing = s.isna() | s.isin([""])
        if isinstance(col.type, Boolean):
            values = s.isin([True, 1, "1", "t", "true", "True"]).map({True: "t", False: "f"})
        elif isinstance(col.type, Integer):
            values = pd.to_numeric(s.where(~missing, None), errors="coerce").astype("Int64")
        elif isinstance(col.type, Date):
            values = s.where(~missing, "").astype(str).str.slice(0, 10)
        else:
            values = s
        out[col.name] = values.astype(object).where(~missing, None)
    buf = io.StringIO()
    out.to_csv(buf, index=False, header=False, na_rep="")
    return buf.getvalue()


def insert_frame(session: Session, table: Table, frame: pd.DataFrame) -> int:
    """Append ``frame``'s rows to ``table`` (columns by name); returns the number of rows.

    Empty strings are written as NULL, the store's one representation of "no value".
    """
    if frame.empty:
        return 0
    columns = [table.c[name] for name in frame.columns]
    if _dialect(session) == "postgresql":
        text = _copy_text(frame, columns)
        names = ", ".join(f'"{c.name}"' for c in columns)
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            with cursor.copy(
                f"COPY {_qualified(table)} ({names}) FROM STDIN WITH (FORMAT csv, NULL '')"
            ) as copy:
                copy.write(text)
        return len(frame)
    data = [_sqlite_column(frame[c.name], c.type) for c in columns]
    rows = list(zip(*data, strict=True))
    placeholders = ", ".join("?" for _ in columns)
    names = ", ".join(f'"{c.name}"' for c in columns)
    session.connection().exec_driver_sql(
        f"INSERT INTO {_qualified(table)} ({names}) VALUES ({placeholders})", rows
    )
    return len(frame)


def _qualified(table: Table) -> str:
    return f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'


def stage_frame(session: Session, frame: pd.DataFrame, types: Mapping[str, TypeEngine]) -> Table:
    """Load ``frame`` into a fresh temporary table with the given column types.

    The caller joins against it in set-based UPDATE / INSERT ... SELECT statements and drops it
    with ``drop_staged`` before the transaction ends.
    """
    name = f"stage_{uuid.uuid4().hex[:12]}"
    table = Table(
        name,
        MetaData(),
        *(Column(col, type_) for col, type_ in types.items()),
        prefixes=["TEMPORARY"],
    )
    table.create(session.connection())
    insert_frame(session, table, frame[list(types)])
    return table


def drop_staged(session: Session, table: Table) -> None:
    table.drop(session.connection())


def read_frame(session: Session, stmt: Select) -> pd.DataFrame:
    """Run ``stmt`` and return its rows with the values as the backend stores them.

    PostgreSQL streams the result through ``COPY (...) TO STDOUT`` as text (dates ISO,
    booleans ``t``/``f``, NULL as empty); SQLite returns its stored text/integers. Callers
    compare values through ``canonical`` so both backends look alike.
    """
    bind = session.get_bind()
    sql = str(stmt.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))
    names = [c.name for c in stmt.selected_columns]
    if bind.dialect.name == "postgresql":
        raw = session.connection().connection.driver_connection
        buf = io.BytesIO()
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
                for chunk in copy:
                    buf.write(chunk)
        buf.seek(0)
        if buf.getbuffer().nbytes == 0:
            return pd.DataFrame({n: pd.Series(dtype=object) for n in names})
        frame = pd.read_csv(
            buf, header=None, names=names, dtype=str, keep_default_na=False, na_filter=False
        )
        return frame.astype(object)
    raw = session.connection().connection.driver_connection
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        rows = cursor.execute(sql).fetchall()  # plain tuples: Row objects slow pandas down 10x
    finally:
        cursor.close()
    return pd.DataFrame.from_records(rows, columns=names).astype(object)


_TRUE = frozenset({"1", "t", "true", "True"})


def _date_text(v: object) -> str:
    if type(v) is str:
        return v[:10]
    iso = getattr(v, "isoformat", None)
    return iso()[:10] if iso is not None else str(v)[:10]


def canonical(series: pd.Series, kind: str) -> pd.Series:
    """Values as comparable text: ``kind`` is ``text``, ``date``, ``bool`` or ``int``.

    NULL and the empty string both become ``""``; dates ``YYYY-MM-DD``; booleans ``1``/``0``.
    Plain loops over an object array: the sync canonicalises millions of values per run and
    pandas' string conversions cost several times more.
    """
    values = series.to_numpy(dtype=object, na_value=None)
    missing = pd.isna(values)
    if kind == "bool":
        out = [
            "" if m else ("1" if (v is True or v == 1 or v in _TRUE) else "0")
            for v, m in zip(values, missing, strict=True)
        ]
    elif kind == "int":
        out = ["" if m or v == "" else str(int(v)) for v, m in zip(values, missing, strict=True)]
    elif kind == "date":
        out = ["" if m else _date_text(v) for v, m in zip(values, missing, strict=True)]
    else:
        out = [
            "" if m else (v if type(v) is str else str(v))
            for v, m in zip(values, missing, strict=True)
        ]
    return pd.Series(out, index=series.index, dtype=object)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (services' default for ``now``)."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Read a stored timestamp as aware UTC (SQLite hands them back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
