"""Service fixtures: each test gets a fresh store on SQLite and on PostgreSQL, and factories."""

from __future__ import annotations

import datetime as dt
import os
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    """A URL of an empty store: a SQLite file, or a PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'clm.sqlite'}"
        return
    if not _postgres_up():
        pytest.skip("PostgreSQL is not running at 127.0.0.1:5432 (CI starts it)")
    import psycopg

    name = f"clm_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            + "/"
            + name
        )
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def store(store_url):
    """An open store migrated to the newest schema."""
    opened = Store.open(store_url)
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
            password="correct horse battery",
            now=NOW,
        )
    return actor_for(user)


def make_user(store, login: str, role: str, *, password: str | None = "correct horse battery"):
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
