"""``clm.api.runner.Runner``: reads on the event loop share one connection kept in autocommit
mode, and a failure or a long idle spell gives it up."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event

from clm.errors import NotFoundError
from clm.services.reads import fetch

PG_ONLY = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def _backend(session) -> tuple[int, bool]:
    """The server process answering, and whether the statement ran in autocommit mode."""
    pid = fetch(session, "SELECT pg_backend_pid()", {})[0][0]
    driver = session.get_bind().connection.driver_connection
    return pid, driver.autocommit


def _read(runner, service):
    return asyncio.run(runner.read(service))


def _checkouts(app) -> list[int]:
    found: list[int] = []
    event.listen(app.state.store.engine.pool, "checkout", lambda *_: found.append(1))
    return found


@PG_ONLY
def test_reads_share_one_connection_in_autocommit_mode_until_closed(app):
    runner, pool = app.state.runner, app.state.store.engine.pool
    checkouts = _checkouts(app)
    first, second = _read(runner, _backend), _read(runner, _backend)
    assert first == second and first[1] is True
    assert len(checkouts) == 1 and pool.checkedout() == 1
    runner.close()
    assert pool.checkedout() == 0
    with app.state.store.engine.connect() as connection:  # back in the pool as it was
        assert connection.connection.driver_connection.autocommit is False


@PG_ONLY
def test_a_service_refusal_keeps_the_connection_and_a_failure_drops_it(app):
    runner = app.state.runner
    pid, _ = _read(runner, _backend)

    def refuse(_session):
        raise NotFoundError("customer 'x' does not exist", field="customer_id")

    with pytest.raises(NotFoundError):
        _read(runner, refuse)
    assert _read(runner, _backend)[0] == pid

    def fail(session):
        return fetch(session, "SELECT 1 / 0", {})

    with pytest.raises(Exception, match="division by zero"):
        _read(runner, fail)
    assert _read(runner, _backend)[0] != pid


@PG_ONLY
def test_a_connection_the_server_dropped_is_replaced_after_one_failed_read(app):
    import psycopg

    runner, store = app.state.runner, app.state.store
    pid, _ = _read(runner, _backend)
    admin_url = store.engine.url.set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg.OperationalError):
        _read(runner, _backend)
    assert _read(runner, _backend)[0] != pid


@PG_ONLY
def test_after_sitting_idle_the_connection_goes_back_through_the_pool(app, monkeypatch):
    import clm.store.engine as engine_module

    runner = app.state.runner
    checkouts = _checkouts(app)
    _read(runner, _backend)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)
    _read(runner, _backend)
    assert len(checkouts) == 2 and app.state.store.engine.pool.checkedout() == 1


def test_with_sqlite_reads_run_in_a_worker_thread(app):
    import threading

    loop_thread = []

    async def read():
        loop_thread.append(threading.get_ident())
        return await app.state.runner.read(lambda _session: threading.get_ident())

    assert asyncio.run(read()) != loop_thread[0]
    assert app.state.store.engine.pool.checkedout() == 0
