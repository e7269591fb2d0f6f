"""Pipelined writes run in order, fail as a unit; deferred indexes come back, checked."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from sqlalchemy import func, insert, select

from clm.store.bulk import insert_arrow
from clm.store.pipeline import defer_indexes, pipeline, restore_indexes
from clm.store.tables import Customer, CustomerStage


def _customers(*ids: str) -> pa.Table:
    names = [f"name {i}" for i in ids]
    return pa.table({"id": list(ids), "name": names, "erased": [False] * len(ids)})


def _count(store, table) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(table))


def test_writes_run_in_the_order_they_were_queued(store):
    seen = []
    with store.session() as s, s.begin():
        with pipeline(s) as writes:
            writes.submit("a", lambda s: insert_arrow(s, Customer.__table__, _customers("x")))
            writes.submit("b", lambda s: seen.append(s.scalar(select(func.count(Customer.id)))))
            writes.submit("a", lambda s: insert_arrow(s, Customer.__table__, _customers("y")))
    assert seen == [1] and _count(store, Customer) == 2
    assert set(writes.seconds) == {"a", "b"}


def test_a_failed_write_skips_the_rest_and_raises_when_the_pipeline_closes(store):
    ran = []
    with store.session() as s:
        with pytest.raises(Exception, match=r"duplicate|UNIQUE|unique"), s.begin():
            with pipeline(s) as writes:
                writes.submit("a", lambda s: insert_arrow(s, Customer.__table__, _customers("x")))
                writes.submit("b", lambda s: insert_arrow(s, Customer.__table__, _customers("x")))
                writes.submit("c", lambda s: ran.append("c"))
    assert ran == [] and _count(store, Customer) == 0


def test_an_error_in_the_block_waits_for_the_writes_and_propagates(store):
    with store.session() as s:
        with pytest.raises(RuntimeError, match="planning failed"), s.begin():
            with pipeline(s) as writes:
                writes.submit("a", lambda s: insert_arrow(s, Customer.__table__, _customers("x")))
                raise RuntimeError("planning failed")
    assert _count(store, Customer) == 0


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_deferred_foreign_keys_are_checked_when_restored(store):
    tables = [CustomerStage.__table__]
    with store.session() as s, pytest.raises(Exception, match="foreign key"), s.begin():
        statements = defer_indexes(s, tables)
        assert any("FOREIGN KEY" in st for st in statements)
        s.execute(insert(CustomerStage).values(
            customer_id="nobody", stage="new", model_version="m", run_id="r",
            synced_on=dt.date(2024, 3, 1), grey_zone=False))
        restore_indexes(s, statements)
    with store.session() as s, s.begin():  # rolled back: the constraints are still there
        assert defer_indexes(s, tables)
        s.rollback()


def test_nothing_is_deferred_on_sqlite_or_for_a_table_without_secondary_indexes(store):
    with store.session() as s, s.begin():
        statements = defer_indexes(s, [Customer.__table__])
        restore_indexes(s, statements)
    if store.dialect == "sqlite":
        assert statements == []
    else:  # customers: the owner index and its foreign key to users, then ANALYZE
        assert [st.split()[0] for st in statements] == ["CREATE", "ALTER", "ANALYZE"]


def test_waiting_on_a_skipped_write_reports_the_write_that_failed(store):
    with store.session() as s:
        with pytest.raises(Exception, match=r"duplicate|UNIQUE|unique"), s.begin():
            with pipeline(s) as writes:
                writes.submit("a", lambda s: insert_arrow(s, Customer.__table__, _customers("x")))
                writes.submit("b", lambda s: insert_arrow(s, Customer.__table__, _customers("x")))
                read = writes.submit("c", lambda s: s.scalar(select(func.count(Customer.id))))
                read.result()
    assert _count(store, Customer) == 0
