"""``Runner``: how the routes read most often call their service, and on which connection.

Those routes would otherwise pay for three hand-overs between the event loop and worker
threads per request (``SessionDep`` and a plain ``def`` route). ``read`` is for a service that
reads with one statement and writes nothing. On PostgreSQL it runs right on the event loop:
the statement takes about a millisecond, and handing it to a thread costs more CPU than that
once 50 clients keep the interpreter's lock contested (bench/bench_api.py measured about 1.7
times the requests per second this way). With SQLite, whose transactions wait for a writer's
lock, it runs in a worker thread, as does everything given to ``thread``.

Reads on the loop run one after another (a service call never awaits), so they share one
connection, kept out of the pool in autocommit mode ("pinned"): checking a connection out of
the pool and back, switching it to autocommit and back, and a fresh ``Session`` around it cost
about a fifth of a task list's CPU at 50 clients. The pinned connection is given back to the
pool after ``PING_AFTER_IDLE_S`` unused (the pool then checks it before handing it out again),
dropped after any failure that is not a ``ClmError`` (it may be broken or half-used), and
closed by ``close`` when the app stops. A read that finds it in use (only possible when
several threads run event loops on one app, as test clients do) takes a pooled connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from clm.errors import ClmError
from clm.store import engine as store_engine
from clm.store.engine import Store

T = TypeVar("T")


class Runner:
    """Run one service call with a session of its own, closed afterwards (see the module)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads_on_loop = store.dialect == "postgresql"
        self._pinned: Connection | None = None
        self._pin_lock = threading.Lock()  # held while a read uses the pinned connection
        self._used_at = 0.0

    async def read(self, service: Callable[..., T], /, **kwargs: Any) -> T:
        if not self.reads_on_loop:
            return await self.thread(service, **kwargs)
        if not self._pin_lock.acquire(blocking=False):
            return self._call(service, kwargs)
        try:
            return self._pinned_call(service, kwargs)
        finally:
            self._pin_lock.release()

    async def thread(self, service: Callable[..., T], /, **kwargs: Any) -> T:
        return await run_in_threadpool(self._call, service, kwargs)

    def close(self) -> None:
        """Give the pinned connection back (before the store's engine is disposed)."""
        with self._pin_lock:
            self._release()

    def _call(self, service: Callable[..., T], kwargs: dict[str, Any]) -> T:
        session = self.store.sessions()
        try:
            return service(session, **kwargs)
        finally:
            session.close()

    def _pinned_call(self, service: Callable[..., T], kwargs: dict[str, Any]) -> T:
        session = self.store.sessions(bind=self._connection())
        healthy = False
        try:
            result = service(session, **kwargs)
            healthy = True
            return result
        except ClmError:
            healthy = True  # the service said no; the connection is fine
            raise
        finally:
            try:
                session.close()
            except Exception:  # a broken connection; the service's own error goes on
                healthy = False
            if not healthy:
                self._release(invalidate=True)

    def _connection(self) -> Connection:
        now = time.monotonic()
        if self._pinned is not None and (
            self._pinned.invalidated or now - self._used_at >= store_engine.PING_AFTER_IDLE_S
        ):
            self._release()
        if self._pinned is None:
            connection = self.store.engine.connect()
            self._pinned = connection.execution_options(isolation_level="AUTOCOMMIT")
        self._used_at = now
        return self._pinned

    def _release(self, *, invalidate: bool = False) -> None:
        pinned, self._pinned = self._pinned, None
        if pinned is None:
            return
        try:
            if invalidate:
                pinned.invalidate()
            pinned.close()
        except Exception:  # a broken connection is dropped either way
            pass
