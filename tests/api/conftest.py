"""API fixtures: an app per test on a fresh store (SQLite; PostgreSQL where a test asks), a small
seeded organisation, and authenticated clients per user."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import uuid

import pandas as pd
import pytest
from api_helpers import AS_OF, NOW, PASSWORD, Org

PG_ADMIN = os.environ.get("CLM_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(sql)


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


@pytest.fixture(scope="session")
def api_templates(tmp_path_factory):
    """Migrated template stores, copied per test instead of migrating again."""
    from clm.store.engine import upgrade

    sqlite_file = tmp_path_factory.mktemp("api-template") / "template.sqlite"
    upgrade(f"sqlite:///{sqlite_file}")
    templates = {"sqlite": sqlite_file, "postgresql": None}
    if _postgres_up():
        name = f"clm_apitpl_{uuid.uuid4().hex[:10]}"
        _admin(f'CREATE DATABASE "{name}"')
        upgrade(_pg_url(name))
        templates["postgresql"] = name
    yield templates
    if templates["postgresql"]:
        _admin(f'DROP DATABASE IF EXISTS "{templates["postgresql"]}" WITH (FORCE)')


@pytest.fixture
def backend(request) -> str:
    """``sqlite`` unless a test is parametrised with ``BOTH`` (then also ``postgresql``)."""
    name = getattr(request, "param", "sqlite")
    if name == "postgresql" and not _postgres_up():
        pytest.skip("PostgreSQL is not running at 127.0.0.1:5432 (CI starts it)")
    return name


@pytest.fixture
def store_url(backend, tmp_path, api_templates):
    if backend == "sqlite":
        target = tmp_path / "clm.sqlite"
        shutil.copyfile(api_templates["sqlite"], target)
        yield f"sqlite:///{target}"
        return
    name = f"clm_api_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{api_templates["postgresql"]}"')
    try:
        yield _pg_url(name)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def app(store_url, tmp_path):
    from clm.app import create_app
    from clm.config import get_settings

    application = create_app(
        get_settings(home=tmp_path / "home", store_url=store_url, environment="test")
    )
    yield application
    application.state.store.dispose()


def _frames():
    ids = [f"c{i:03d}" for i in range(6)]
    stages = ["prospect", "new", "growing", "mature", "declining", "churned"]
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": ["张伟", "Li Na", "Wang Fang", "Acme Ltd", "Zhao Lei", "Chen Jie"],
            "industry": ["retail", "saas", "saas", "retail", "finance", "retail"],
            "phone": [f"138{i:04d}8888" for i in range(6)],
            "email": [f"user{i}@example.com" for i in range(6)],
            "owner": ["alice", "alice", "alice", "bob", None, None],
            "acquisition_channel": "web",
            "signup_date": pd.to_datetime("2023-06-01"),
        }
    )
    current = pd.DataFrame(
        {
            "customer_id": ids,
            "stage": stages,
            "stage_since": [dt.date(2024, 2, 20)] * 6,
            "previous_stage": [None, "prospect", "new", "growing", "mature", "declining"],
            "grey_zone": [False, False, True, False, True, False],
            "reasons": [[f"rule {s}"] for s in stages],
        }
    )
    transitions = pd.DataFrame(
        {
            "customer_id": ["c001", *ids],
            "from_stage": [None, None, "prospect", None, None, None, None],
            "to_stage": ["prospect", *stages],
            "changed_on": [dt.date(2024, 1, 5)] + [dt.date(2024, 2, 20)] * 6,
            "reasons": [["visited 3 pages"], *[[f"rule {s}"] for s in stages]],
        }
    )
    return customers, current, transitions


@pytest.fixture
def org(app) -> Org:
    """Users admin, alice (sales), bob (success), mark (marketing), max (manager), pat
    (product); customers c000-c005 synced from an engine run (alice owns c000-c002, bob c003)."""
    from clm.services.actors import Actor
    from clm.services.sync import sync_stages
    from clm.services.users import create_user, issue_token

    roles = {
        "admin": "admin",
        "alice": "sales",
        "bob": "success",
        "mark": "marketing",
        "max": "manager",
        "pat": "product",
    }
    users, tokens = {}, {}
    with app.state.store.session() as s:
        for login, role in roles.items():
            user = create_user(
                s,
                actor=Actor.system(),
                login=login,
                name=login.title(),
                role=role,
                password=PASSWORD if login == "admin" else None,
                now=NOW,
            )
            users[login] = user.id
            tokens[login] = issue_token(
                s, actor=Actor.system(), user_id=user.id, name="test", now=NOW
            ).token
        customers, current, transitions = _frames()
        sync_stages(
            s,
            customers=customers,
            current=current,
            transitions=transitions,
            model_version="default@1",
            run_id="run-1",
            as_of=AS_OF,
            now=NOW,
        )
    return Org(app, users, tokens)
