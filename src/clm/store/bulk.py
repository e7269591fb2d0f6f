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
from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import Boolean, Column, Date, DateTime, Integer, MetaData, Table
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.types import TypeEngine


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _sqlite_value(value: object, type_: TypeEngine) -> object:
    if value is None or value == "" or (
        not isinstance(value, str | list | dict) and pd.isna(value)
    ):
        return None
    if isinstance(type_, DateTime):
        ts = pd.Timestamp(value)
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        return ts.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(type_, Date):
        return value.isoformat() if isinstance(value, date) else str(value)[:10]
    if isinstance(type_, Boolean):
        return 1 if value in (True, 1, "1", "t", "true", "True") else 0
    if isinstance(type_, Integer):
        return int(value)  # type: ignore[call-overload]
    return value


def _copy_text(frame: pd.DataFrame, columns: list[Column]) -> str:
    out = frame.copy()
    for col in columns:
        if isinstance(col.type, Boolean):
            out[col.name] = out[col.name].map(lambda v: None if v is None else bool(v))
        elif isinstance(col.type, Integer):
            out[col.name] = out[col.name].astype("Int64")
        elif isinstance(col.type, Date):
            out[col.name] = out[col.name].map(
                lambda v: None if v is None or v is pd.NaT else str(v)[:10]
            )
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
                f'COPY {_qualified(table)} ({names}) FROM STDIN WITH (FORMAT csv, NULL \'\')'
            ) as copy:
                copy.write(text)
        return len(frame)
    types = [c.type for c in columns]
    rows = [
        tuple(_sqlite_value(v, t) for v, t in zip(record, types, strict=True))
        for record in frame.itertuples(index=False, name=None)
    ]
    placeholders = ", ".join("?" for _ in columns)
    names = ", ".join(f'"{c.name}"' for c in columns)
    session.connection().exec_driver_sql(
        f"INSERT INTO {_qualified(table)} ({names}) VALUES ({placeholders})", rows
    )
    return len(frame)


def _qualified(table: Table) -> str:
    return f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'


def stage_frame(
    session: Session, frame: pd.DataFrame, types: Mapping[str, TypeEngine]
) -> Table:
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
    rows = session.connection().exec_driver_sql(sql).fetchall()
    return pd.DataFrame.from_records(rows, columns=names).astype(object)


def canonical(series: pd.Series, kind: str) -> pd.Series:
    """Values as comparable text: ``kind`` is ``text``, ``date``, ``bool`` or ``int``.

    NULL and the empty string both become ``""``; dates ``YYYY-MM-DD``; booleans ``1``/``0``.
    """

    def one(v: object) -> str:
        if v is None or (not isinstance(v, str | list | dict) and pd.isna(v)):
            return ""
        if kind == "bool":
            return "1" if v in (True, 1, "1", "t", "true", "True") else "0"
        if kind == "date":
            return v.isoformat()[:10] if isinstance(v, date) else str(v)[:10]
        if kind == "int":
            return str(int(v))  # type: ignore[call-overload]
        return str(v)

    return series.map(one).astype(object)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (services' default for ``now``)."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Read a stored timestamp as aware UTC (SQLite hands them back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
