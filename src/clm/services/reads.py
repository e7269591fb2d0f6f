"""Hot reads answered as JSON bytes: the driver's cursor and the API's JSON encoding.

The tracking record and the task list are what a sales team's screens ask for all day, so the
API serves them without the ORM: one SQL statement, read through the database driver's own
cursor, encoded with orjson. The ORM would build an object per row and SQLAlchemy's result
layer would process every column, each costing more than the statement itself at the request
rates issue 4 asks for.

A read that writes nothing is one statement on a pooled connection in autocommit mode: a
single statement sees one snapshot, so no BEGIN and COMMIT round trips are needed to make its
parts agree, and the session's own connection handling (which would switch the isolation level
through SQLAlchemy and back) is skipped. Inside a transaction the caller already opened, the
statement runs in that.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.orm import Session


def dumps(value: Any) -> bytes:
    """JSON as the API writes it: dates ISO 8601, datetimes RFC 3339 (naive ones, which SQLite
    returns, are UTC; UTC is written ``Z``), as the response schemas' ``UtcDatetime`` does."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def fetch(session: Session, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of one read-only ``sql`` (driver paramstyle ``%(name)s``): on the connection
    the session is bound to, if it is bound to one (``clm.api.runner`` binds its reads to a
    connection it keeps in autocommit mode); else in the session's transaction if one is open;
    else in autocommit mode on a connection from its pool."""
    bind = session.get_bind()
    if isinstance(bind, Connection):  # pinned, in autocommit mode (clm.api.runner)
        with bind.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            return cursor.execute(sql, params).fetchall()
    if session.in_transaction():
        driver = session.connection().connection.driver_connection
        with driver.cursor() as cursor:  # type: ignore[union-attr]
            return cursor.execute(sql, params).fetchall()
    pooled = session.get_bind().raw_connection()
    try:
        driver = pooled.driver_connection
        driver.autocommit = True  # type: ignore[union-attr]
        with driver.cursor() as cursor:  # type: ignore[union-attr]
            rows = cursor.execute(sql, params).fetchall()
        driver.autocommit = False  # type: ignore[union-attr]
    except BaseException:
        pooled.invalidate()  # a half-used or lost connection is not given out again
        raise
    finally:
        pooled.close()
    return rows
