"""Opening, migrating and closing the store on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from clm.errors import ConfigError
from clm.store.engine import Store, current_revision, downgrade, make_engine, upgrade
from clm.store.tables import Base

EXPECTED_TABLES = {
    "users", "api_tokens", "customers", "customer_stage", "stage_transitions",
    "playbook_versions", "tasks", "follow_ups", "tags", "customer_tags", "segments",
    "consents", "reminder_deliveries", "audit_log", "customer_metrics", "analytics_snapshots",
}


def head_revision() -> str:
    """The newest migration shipped in the package."""
    from importlib import resources

    from alembic.script import ScriptDirectory

    folder = resources.files("clm.store").joinpath("migrations")
    return ScriptDirectory(str(folder)).get_current_head()


def test_upgrade_creates_every_table_at_head(store):
    tables = set(inspect(store.engine).get_table_names())
    assert EXPECTED_TABLES <= tables
    assert current_revision(store.engine) == head_revision()


def test_migrations_match_the_orm_tables(store):
    """A change to tables.py without a migration fails here."""
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(store_url):
    engine = make_engine(store_url)
    upgrade(engine)
    downgrade(engine, revision="base")
    assert not EXPECTED_TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert EXPECTED_TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_upgrade_twice_is_harmless(store):
    upgrade(store.engine)
    assert current_revision(store.engine) == head_revision()


def test_postgres_aliases_route_to_psycopg():
    engine = make_engine("postgres://someone@127.0.0.1:1/nowhere")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_a_url_that_is_not_a_database_url_is_a_config_error():
    with pytest.raises(ConfigError, match="not a database URL"):
        make_engine("no such thing")


def test_sqlite_store_creates_its_folder(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'deep' / 'er' / 'clm.sqlite'}")
    assert (tmp_path / "deep" / "er" / "clm.sqlite").exists()
    assert store.dialect == "sqlite"
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.dispose()


def test_a_connection_is_pinged_only_after_sitting_idle_and_replaced_if_dead(
    store, monkeypatch
):
    import clm.store.engine as engine_module

    if store.dialect != "postgresql":
        pytest.skip("pooled server connections are PostgreSQL's (SQLite opens a file)")
    pings = []
    real_ping = store.engine.dialect.do_ping
    monkeypatch.setattr(
        store.engine.dialect, "do_ping", lambda c: pings.append(c) or real_ping(c)
    )
    with store.engine.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with store.engine.connect() as connection:  # in use a moment ago: not checked again
        assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() == pid
    assert pings == []
    admin = store.engine.dialect.dbapi.connect(
        store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False),
        autocommit=True,
    )
    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))  # the server drops it while idle
    admin.close()
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
    assert len(pings) >= 1
