"""Service fixtures: each test gets a fresh store on SQLite and on PostgreSQL, and factories."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import uuid

import pandas as pd
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


AS_OF = dt.date(2024, 3, 1)
NOW = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def admin(store):
    """An admin user created by the system (the first-start path)."""
    from clm.services.actors import Actor
    from clm.services.users import actor_for, create_user

    with store.session() as s:
        user = create_user(
            s,
            actor=Actor.system(),
            login="admin",
            name="Admin",
            role="admin",
            password=None,
            now=NOW,
        )
    return actor_for(user)


def make_user(store, login: str, role: str, *, password: str | None = None):
    from clm.services.actors import Actor
    from clm.services.users import actor_for, create_user

    with store.session() as s:
        user = create_user(
            s,
            actor=Actor.system(),
            login=login,
            name=login.title(),
            role=role,
            password=password,
            now=NOW,
        )
    return actor_for(user)


def frames(n: int = 3, *, stages=None, owners=None, seed: int = 7):
    """Engine-run frames for ``n`` customers ``c000``...: customers, current, transitions."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = [f"c{i:03d}" for i in range(n)]
    stages = stages or [
        ["prospect", "new", "growing", "mature", "declining", "churned"][i % 6] for i in range(n)
    ]
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": [f"客户{i}" for i in range(n)],
            "industry": rng.choice(["retail", "saas"], n),
            "phone": [f"138{i:08d}" for i in range(n)],
            "email": [f"user{i}@example.com" for i in range(n)],
            "owner": owners if owners is not None else [None] * n,
            "acquisition_channel": "web",
            "signup_date": pd.to_datetime("2023-06-01") + pd.to_timedelta(np.arange(n), "D"),
        }
    )
    current = pd.DataFrame(
        {
            "customer_id": ids,
            "stage": stages,
            "stage_since": [dt.date(2024, 2, 1)] * n,
            "previous_stage": [None] * n,
            "grey_zone": [i % 4 == 0 for i in range(n)],
            "reasons": [[f"rule {s}"] for s in stages],
        }
    )
    transitions = pd.DataFrame(
        {
            "customer_id": ids,
            "from_stage": [None] * n,
            "to_stage": stages,
            "changed_on": [dt.date(2024, 2, 1)] * n,
            "reasons": [[f"rule {s}"] for s in stages],
        }
    )
    return customers, current, transitions


def run_sync(
    store,
    customers,
    current,
    transitions,
    *,
    run_id="run-1",
    as_of=AS_OF,
    model_version="default@1",
    **options,
):
    from clm.services.sync import sync_stages

    with store.session() as s:
        return sync_stages(
            s,
            customers=customers,
            current=current,
            transitions=transitions,
            model_version=model_version,
            run_id=run_id,
            as_of=as_of,
            now=NOW,
            **options,
        )


def counts(store) -> dict[str, int]:
    """Rows per table (how a test sees that nothing was written)."""
    from sqlalchemy import func, select

    from clm.store.tables import Base

    with store.session() as s:
        return {
            name: s.scalar(select(func.count()).select_from(table))
            for name, table in Base.metadata.tables.items()
        }


@pytest.fixture
def make_frames():
    return frames


@pytest.fixture
def sync(store):
    """``sync(customers, current, transitions, **options)`` against this test's store."""
    return lambda *a, **k: run_sync(store, *a, **k)


@pytest.fixture
def table_counts(store):
    return lambda: counts(store)


@pytest.fixture
def new_user(store):
    """``new_user(login, role)`` -> the user's Actor."""
    return lambda login, role, **k: make_user(store, login, role, **k)
