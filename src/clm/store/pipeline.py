"""Ordered bulk writes that overlap with the caller's Python work, and initial-load indexing.

A large sync is two kinds of work of about the same size: Python preparing rows (comparing,
assigning, building audit JSON) and PostgreSQL storing them (parsing COPY input, heap and index
inserts, foreign-key checks). Run one after the other they add up; run side by side they cost
the larger of the two. ``pipeline`` gives the caller a queue of writes that one worker thread
runs, in order, on the session's connection while the caller prepares the next step (psycopg
releases the GIL while PostgreSQL works). The caller must not touch the session until the
pipeline is closed; closing waits for every write and re-raises the first failure, so the
caller's transaction then commits or rolls back as usual. On SQLite, whose connections belong
to the thread that opened them, the writes simply run when submitted.

``defer_indexes`` is pg_restore's order for a first load into empty tables: drop the tables'
secondary indexes and foreign keys, load, then rebuild the indexes (one sort each instead of a
million inserts) and re-add the foreign keys (one anti-join each instead of a million lookups).
Nothing is lost: the constraints are checked over every row when re-added, inside the same
transaction. Dropping a foreign key locks both its tables until commit, so callers only do this
when the tables were empty, and no one could have been reading them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Table, text
from sqlalchemy.orm import Session

T = TypeVar("T")


class SkippedWrite(RuntimeError):
    """A queued write that did not run because an earlier one failed."""


class Writes:
    """The queue of one pipeline's writes; ``seconds`` adds up each label's run time."""

    def __init__(self, session: Session, *, background: bool) -> None:
        self.session = session
        self.seconds: dict[str, float] = {}
        self._executor = ThreadPoolExecutor(max_workers=1) if background else None
        self._futures: list[Future] = []
        self.error: BaseException | None = None  # the first write that failed

    def submit(self, label: str, write: Callable[[Session], T]) -> Future[T]:
        """Queue ``write(session)``; on SQLite it runs now. Writes after a failure are skipped.

        The returned future holds what ``write`` returned (a read done in order with the
        writes); waiting on it re-raises its failure.
        """
        if self._executor is None:
            done: Future[T] = Future()
            try:
                done.set_result(self._run(label, write))
            except BaseException as exc:
                done.set_exception(exc)
                raise
            return done
        future = self._executor.submit(self._run, label, write)
        self._futures.append(future)
        return future

    def _run(self, label: str, write: Callable[[Session], T]) -> T:
        if self.error is not None:
            raise SkippedWrite(f"{label}: not run, an earlier write failed") from self.error
        start = time.perf_counter()
        try:
            return write(self.session)
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

    def close(self) -> None:
        """Wait for every queued write; raise the first failure."""
        if self._executor is None:
            return
        try:
            for future in self._futures:
                future.result()
        finally:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._futures = []


@contextmanager
def pipeline(session: Session) -> Iterator[Writes]:
    """Writes queued inside the block run in order on a worker thread (PostgreSQL).

    On leaving the block every write has finished; an error in the block or in a write
    propagates after the worker has stopped using the connection.
    """
    writes = Writes(session, background=session.get_bind().dialect.name == "postgresql")
    try:
        yield writes
    except BaseException as exc:
        if writes.error is None:
            writes.error = exc  # what is still queued is not run
        try:
            writes.close()
        except BaseException:
            pass
        if isinstance(exc, SkippedWrite) and writes.error is not exc:
            raise writes.error from None  # the block waited on a write that could not run
        raise
    writes.close()


_SECONDARY = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = CAST(:table AS regclass) AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY 1
"""
_FOREIGN = """
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = CAST(:table AS regclass) AND contype = 'f'
ORDER BY 1
"""


def defer_indexes(session: Session, tables: Sequence[Table]) -> list[str]:
    """Drop ``tables``' secondary indexes and foreign keys (PostgreSQL; nothing on SQLite).

    Returns the statements that put them back, indexes first, then ``ANALYZE`` of each table
    (a freshly loaded table has no statistics until autovacuum comes by, and the next query
    over it, such as the next sync's, would be planned as if it were empty); run them with
    ``restore_indexes`` before the transaction commits.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return []
    indexes: list[str] = []
    foreign: list[str] = []
    for table in tables:
        name = f'"{table.name}"'
        for index, definition in connection.execute(text(_SECONDARY), {"table": name}):
            connection.exec_driver_sql(f"DROP INDEX {index}")
            indexes.append(definition)
        for constraint, definition in connection.execute(text(_FOREIGN), {"table": name}):
            connection.exec_driver_sql(f'ALTER TABLE {name} DROP CONSTRAINT "{constraint}"')
            foreign.append(f'ALTER TABLE {name} ADD CONSTRAINT "{constraint}" {definition}')
    return indexes + foreign + [f'ANALYZE "{table.name}"' for table in tables]


def restore_indexes(session: Session, statements: Sequence[str]) -> None:
    """Rebuild what ``defer_indexes`` dropped; a violated foreign key fails here."""
    if not statements:
        return
    connection = session.connection()
    connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    for statement in statements:
        connection.exec_driver_sql(statement)
