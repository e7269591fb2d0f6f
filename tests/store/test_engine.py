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
