"""Set-at-a-time reads and writes for the store, fast on PostgreSQL and correct on SQLite.

The stage sync moves up to a million rows per run (issue 4: 1M customers into PostgreSQL in
under 60 s). Building one ORM object per row costs far more than that, so large writes go
through here instead: ``COPY ... FROM STDIN`` on PostgreSQL (stack.md: 1.3 s per 1M rows, against
~100 s through INSERTs) and one ``executemany`` on SQLite. Values are passed as the text each
backend stores, in the same format SQLAlchemy's types use, so ORM reads see ordinary rows.

Two flavours: pandas frames (``insert_frame``, ``read_frame``, ``canonical``) for services
that move thousands of rows, and Arrow tables (``insert_arrow``, ``read_canonical``) for the
sync, whose million-row columns are converted, compared and turned into COPY text by Arrow's
C++ kernels instead of one Python object per value.

These helpers run inside the caller's transaction and never commit.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import Boolean, Column, Date, DateTime, Integer, MetaData, Table, update
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


def stage_frame(
    session: Session, frame: pd.DataFrame | pa.Table, types: Mapping[str, TypeEngine]
) -> Table:
    """Load ``frame`` (pandas or Arrow) into a fresh temporary table with the given column types.

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
    if isinstance(frame, pa.Table):
        insert_arrow(session, table, frame.select(list(types)))
    else:
        insert_frame(session, table, frame[list(types)])
    if _dialect(session) == "postgresql":  # temporary tables are never auto-analyzed
        session.connection().exec_driver_sql(f"ANALYZE {_qualified(table)}")
    return table


def drop_staged(session: Session, table: Table) -> None:
    table.drop(session.connection())


def update_arrow(
    session: Session,
    table: Table,
    data: pa.Table,
    *,
    key: str,
    constants: Mapping[str, object] | None = None,
) -> int:
    """Set ``data``'s columns (and ``constants``) on the rows of ``table`` matching ``key``.

    One staged temporary table and one ``UPDATE ... FROM`` for all rows; returns their number.
    """
    if data.num_rows == 0:
        return 0
    staged = stage_frame(session, data, {c: table.c[c].type for c in data.column_names})
    values: dict[str, object] = {c: staged.c[c] for c in data.column_names if c != key}
    values.update(constants or {})
    session.execute(update(table).where(table.c[key] == staged.c[key]).values(values))
    drop_staged(session, staged)
    return data.num_rows


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


# -- Arrow tables (the sync) ------------------------------------------------------------------


def _pg_text(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _sqlite_value(value: object, type_: TypeEngine) -> object:
    if value is None:
        return None
    if isinstance(type_, DateTime):
        return _sqlite_timestamp(value)
    if isinstance(type_, Date):
        return _date_text(value)
    if isinstance(type_, Boolean):
        return int(bool(value))
    return value


def _empty_to_null(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return pc.if_else(pc.equal(column, ""), None, column)
    return column


def _sqlite_values(column: pa.ChunkedArray, type_: TypeEngine) -> list:
    column = _empty_to_null(column)
    if isinstance(type_, Boolean):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pc.is_in(column, pa.array(sorted(_TRUE)))
        return [None if v is None else int(v) for v in column.to_pylist()]
    if pa.types.is_date(column.type):
        column = pc.cast(column, pa.string())
    return column.to_pylist()


def insert_arrow(
    session: Session,
    table: Table,
    data: pa.Table,
    *,
    constants: Mapping[str, object] | None = None,
) -> int:
    """Append ``data``'s rows to ``table`` (columns by name); returns the number of rows.

    ``data`` holds strings (``""`` and nulls are written as NULL), dates, booleans or
    integers; ``constants`` gives columns with one value for every row (the sync's time, run and
    actor), converted once instead of once per row.
    """
    n = data.num_rows
    if n == 0:
        return 0
    constants = dict(constants or {})
    names = [*data.column_names, *constants]
    quoted = ", ".join(f'"{name}"' for name in names)
    if _dialect(session) == "postgresql":
        from psycopg.copy import QueuedLibpqWriter

        raw = session.connection().connection.driver_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            # a writer thread sends each chunk while the next one is built
            writer = QueuedLibpqWriter(cursor)
            with cursor.copy(
                f"COPY {_qualified(table)} ({quoted}) FROM STDIN", writer=writer
            ) as copy:
                for chunk in _copy_chunks(data, list(constants.values())):
                    copy.write(chunk)
        return n
    values = [_sqlite_values(data[name], table.c[name].type) for name in data.column_names]
    values += [[_sqlite_value(v, table.c[k].type)] * n for k, v in constants.items()]
    placeholders = ", ".join("?" for _ in names)
    session.connection().exec_driver_sql(
        f"INSERT INTO {_qualified(table)} ({quoted}) VALUES ({placeholders})",
        list(zip(*values, strict=True)),
    )
    return n


_COPY_CHUNK = 100_000
_COPY_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))
_COPY_SPECIAL = np.array([0x5C, 0x09, 0x0A, 0x0D], dtype=np.uint8)


def _string_bytes(values: pa.Array) -> np.ndarray:
    """The UTF-8 bytes of a string array's values, without copying."""
    data = values.buffers()[2]
    if data is None:
        return np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)
    raw = np.frombuffer(data, dtype=np.uint8)
    return raw[offsets[values.offset] : offsets[values.offset + len(values)]]


def _copy_escaped(values: pa.Array) -> pa.Array:
    """Backslash, tab, newline and carriage return escaped as COPY's text format wants."""
    if not np.isin(_string_bytes(values), _COPY_SPECIAL).any():
        return values
    for plain, escaped in _COPY_ESCAPES:
        values = pc.replace_substring(values, plain, escaped)
    return values


def _copy_field(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One column in COPY's text format: ``\\N`` for NULL (and for ``""`` strings)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_boolean(column.type):
        column = pc.if_else(column, "t", "f")
    elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = pc.cast(column, pa.string())
        column = _copy_escaped(pc.if_else(pc.equal(column, ""), None, column))
    else:
        column = pc.cast(column, pa.string())
    return pc.fill_null(column, "\\N")


def _copy_literal(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = str(_pg_text(value))
    for plain, escaped in _COPY_ESCAPES:
        text = text.replace(plain, escaped)
    return text


def _copy_chunks(data: pa.Table, constants: list[object]) -> Iterator[memoryview]:
    """``data`` and the constant columns as COPY text, a chunk of rows at a time.

    Each chunk is one Arrow string array of whole lines; its data buffer is the COPY input.
    """
    literals = [_copy_literal(v) for v in constants]
    for start in range(0, data.num_rows, _COPY_CHUNK):
        part = data.slice(start, _COPY_CHUNK)
        pieces: list[str | pa.Array] = []
        for name in part.column_names:
            pieces += [_copy_field(part[name]), "\t"]
        for literal in literals:
            pieces += [literal, "\t"]
        pieces[-1] = "\n"
        merged: list[str | pa.Array] = []
        for piece in pieces:
            if isinstance(piece, str) and merged and isinstance(merged[-1], str):
                merged[-1] += piece
            else:
                merged.append(piece)
        lines = pc.binary_join_element_wise(*merged, "")
        yield memoryview(_string_bytes(lines))


def canonical_text(column: pa.Array | pa.ChunkedArray, kind: str) -> pa.Array:
    """Backend text (PostgreSQL's COPY output or SQLite's stored values as text) as canonical
    text: booleans ``1``/``0``, everything else as stored, NULL as ``""``."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    column = pc.fill_null(pc.cast(column, pa.string()), "")
    if kind == "bool":
        truth = pc.is_in(column, pa.array(sorted(_TRUE)))
        return pc.if_else(pc.equal(column, ""), "", pc.if_else(truth, "1", "0"))
    if kind == "date":
        return pc.utf8_slice_codeunits(column, 0, 10)
    return column


def read_canonical(session: Session, stmt: Select, kinds: Mapping[str, str]) -> pa.Table:
    """Run ``stmt`` and return its columns as canonical text (see ``canonical``), as Arrow.

    ``kinds`` names each selected column's kind (``text``, ``date``, ``bool`` or ``int``).
    """
    bind = session.get_bind()
    names = [c.name for c in stmt.selected_columns]
    raw = session.connection().connection.driver_connection
    if bind.dialect.name == "postgresql":
        sql = str(stmt.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))
        buf = io.BytesIO()
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
                for chunk in copy:
                    buf.write(chunk)
        if buf.getbuffer().nbytes == 0:
            return pa.table({n: pa.array([], pa.string()) for n in names})
        buf.seek(0)
        read = pa_csv.read_csv(
            buf,
            read_options=pa_csv.ReadOptions(column_names=names),
            convert_options=pa_csv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False
            ),
        )
        return pa.table({n: canonical_text(read[n], kinds[n]) for n in names})
    sql = str(stmt.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        rows = cursor.execute(sql).fetchall()
    finally:
        cursor.close()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.table(
        {
            n: pa.array(canonical(pd.Series(col, dtype=object), kinds[n]).tolist(), pa.string())
            for n, col in zip(names, columns, strict=True)
        }
    )


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (services' default for ``now``)."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Read a stored timestamp as aware UTC (SQLite hands them back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
