"""Opening the operational store: engines, migrations and sessions, all built on demand.

A SQLite file is the default (``Settings.resolved_store_url()``) and PostgreSQL is reached by
URL (``postgresql+psycopg://...``). Nothing here runs at import time, so tests may open as many
stores as they like.

SQLite is opened so that concurrent writers queue instead of failing: WAL journal, a busy
timeout, and ``BEGIN IMMEDIATE`` for every transaction (a deferred transaction that reads and
then writes can fail at once with "database is locked" when another writer got in between; the
recipe is SQLAlchemy's "Serializable isolation / Savepoints / Transactional DDL" for pysqlite).
Foreign keys are switched on, which SQLite leaves off by default.

A PostgreSQL connection is checked (a ``SELECT 1`` round trip) before it is handed out only when
it sat unused in the pool for ``PING_AFTER_IDLE_S`` or longer: one that was in use a moment ago
is alive, and checking it anyway (SQLAlchemy's ``pool_pre_ping``) costs a round trip on every
API request. If the server restarts within that window, the first use of a
stale connection fails, SQLAlchemy recognises the disconnect and drops the whole pool, and the
next request gets a new connection.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from clm.errors import ConfigError

_BUSY_TIMEOUT_MS = 30_000
PING_AFTER_IDLE_S = 30.0


def _normalise_url(url: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` and route both to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for the store at ``url`` (SQLite file or PostgreSQL).

    Parameters
    ----------
    url
        SQLAlchemy URL; ``postgres://`` is accepted as an alias of ``postgresql+psycopg://``.
    echo
        Log SQL statements (debugging).
    """
    url = _normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"store URL {url!r} is not a database URL: {exc}", field="store_url"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    try:
        engine = create_engine(parsed, echo=echo)
    except Exception as exc:  # missing driver and the like
        raise ConfigError(f"cannot open store {url!r}: {exc}", field="store_url") from None
    _ping_after_idle(engine)
    return engine


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection on checkout only if it was idle ``PING_AFTER_IDLE_S``."""

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection, record) -> None:
        record.info["clm_idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get("clm_idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # just connected, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool replaces the connection and tries again
            raise DisconnectionError(f"connection lost while idle: {exc}") from exc


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # pragma: no cover - trivial
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    location = resources.files("clm.store").joinpath("migrations")
    cfg.set_main_option("script_location", str(location))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _as_engine(engine_or_url: Engine | str) -> tuple[Engine, bool]:
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return make_engine(engine_or_url), True


def upgrade(engine_or_url: Engine | str, *, revision: str = "head") -> None:
    """Migrate the store to ``revision`` (default: the newest), creating it if empty."""
    from alembic import command

    engine, owned = _as_engine(engine_or_url)
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), revision)
    except OperationalError as exc:
        raise ConfigError(
            f"cannot migrate store {engine.url!r}: {exc.orig}", field="store_url"
        ) from None
    finally:
        if owned:
            engine.dispose()


def downgrade(engine_or_url: Engine | str, *, revision: str) -> None:
    """Migrate the store back to ``revision`` (``base`` removes every table)."""
    from alembic import command

    engine, owned = _as_engine(engine_or_url)
    try:
        with engine.begin() as connection:
            command.downgrade(_alembic_config(connection), revision)
    finally:
        if owned:
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the store is at (``None`` before the first upgrade)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that do not expire objects on commit (services return loaded rows)."""
    return sessionmaker(engine, expire_on_commit=False, autobegin=True)


@dataclass
class Store:
    """An open store: its engine and the factory of its sessions."""

    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, echo: bool = False) -> Store:
        """Open the store at ``url``, migrating it to the newest schema unless told not to."""
        engine = make_engine(url, echo=echo)
        if migrate:
            upgrade(engine)
        return cls(engine=engine, sessions=session_factory(engine))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session closed on exit; services inside it own their transactions."""
        session = self.sessions()
        try:
            yield session
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
