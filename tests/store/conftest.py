"""Store fixtures: every store test runs on a fresh SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

import os
import shutil
import socket
import uuid

import pytest

from clm.store.engine import Store

PG_ADMIN = os.environ.get("CLM_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def _create_database(name: str, *, template: str | None = None) -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        suffix = f' TEMPLATE "{template}"' if template else ""
        admin.execute(f'CREATE DATABASE "{name}"{suffix}')
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


def _drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory):
    """One migrated SQLite file and (if reachable) one migrated PostgreSQL template database;
    each test copies one instead of running the migrations again."""
    from clm.store.engine import upgrade

    sqlite_file = tmp_path_factory.mktemp("store-template") / "template.sqlite"
    upgrade(f"sqlite:///{sqlite_file}")
    templates = {"sqlite": sqlite_file, "postgresql": None}
    if _postgres_up():
        name = f"clm_tpl_{uuid.uuid4().hex[:12]}"
        upgrade(_create_database(name))
        templates["postgresql"] = name
    yield templates
    if templates["postgresql"]:
        _drop_database(templates["postgresql"])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    if request.param == "postgresql" and not _postgres_up():
        pytest.skip("PostgreSQL is not running at 127.0.0.1:5432 (CI starts it)")
    return request.param


@pytest.fixture
def store_url(backend, tmp_path):
    """The URL of an empty store: a SQLite file, or a PostgreSQL database dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'clm.sqlite'}"
        return
    name = f"clm_t_{uuid.uuid4().hex[:12]}"
    try:
        yield _create_database(name)
    finally:
        _drop_database(name)


@pytest.fixture
def migrated_url(backend, tmp_path, migrated_templates):
    """The URL of a store at the newest schema, fresh for this test."""
    if backend == "sqlite":
        target = tmp_path / "clm.sqlite"
        shutil.copyfile(migrated_templates["sqlite"], target)
        yield f"sqlite:///{target}"
        return
    name = f"clm_t_{uuid.uuid4().hex[:12]}"
    try:
        yield _create_database(name, template=migrated_templates["postgresql"])
    finally:
        _drop_database(name)


@pytest.fixture
def store(migrated_url):
    """An open store at the newest schema."""
    opened = Store.open(migrated_url, migrate=False)
    yield opened
    opened.dispose()
