"""Alembic environment: migrates the connection handed over by ``clm.store.engine.upgrade``.

``render_as_batch`` lets ALTER-style migrations work on SQLite (copy-and-move of the table).
Run from the command line it falls back to ``CLM_STORE_URL`` (or the default SQLite file).
"""

from __future__ import annotations

from alembic import context

from clm.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from clm.config import get_settings
    from clm.store.engine import make_engine

    engine = make_engine(get_settings().resolved_store_url())
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; point at a database")
run_migrations_online()
