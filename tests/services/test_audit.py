"""The audit trail is written with the change, in one transaction, or not at all."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from clm.errors import PermissionDeniedError
from clm.services.actors import Actor
from clm.services.audit import as_dict, entries, record, transaction
from clm.services.tasks import create_task
from clm.store.tables import AuditEntry, Task

NOW = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)


def _audit_rows(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry))


def test_a_rolled_back_service_leaves_no_audit_row(store, admin):
    before = _audit_rows(store)
    with store.session() as s, pytest.raises(RuntimeError), transaction(s):
        record(s, actor=admin, action="update", entity="thing", entity_id=1, after={"x": 1})
        raise RuntimeError("boom")
    assert _audit_rows(store) == before


def test_services_grouped_in_one_unit_commit_together(store, sync, make_frames, admin):
    sync(*make_frames(1), open_entry_tasks=False)
    with store.session() as s:
        with pytest.raises(RuntimeError), transaction(s):
            create_task(s, actor=admin, customer_id="c000", title="a", due_on=NOW.date())
            create_task(s, actor=admin, customer_id="c000", title="b", due_on=NOW.date())
            raise RuntimeError("the caller changed its mind")
        assert s.scalar(select(func.count()).select_from(Task)) == 0


def test_a_service_after_a_read_still_commits(store, sync, make_frames, admin):
    sync(*make_frames(1), open_entry_tasks=False)
    with store.session() as s:
        s.scalar(select(func.count()).select_from(Task))  # auto-begins a transaction
        create_task(s, actor=admin, customer_id="c000", title="a", due_on=NOW.date())
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Task)) == 1


def test_entries_record_who_what_and_before_after(store, admin):
    run = Actor.automated("run-7", model_version="default@3")
    with store.session() as s:
        with transaction(s):
            record(s, actor=run, action="stage_change", entity="customer_stage", entity_id="c1",
                   customer_id="c1", before={"stage": "new"},
                   after={"stage": "growing", "on": dt.date(2024, 3, 1)}, at=NOW)
        row = as_dict(entries(s, actor=admin, customer_id="c1")[0])
    assert row["actor_run_id"] == "run-7" and row["model_version"] == "default@3"
    assert row["actor_user_id"] is None
    assert row["before"] == {"stage": "new"}
    assert row["after"] == {"stage": "growing", "on": "2024-03-01"}


def test_reading_the_audit_log_needs_the_permission(store, new_user):
    sales = new_user("lei", "sales")
    with store.session() as s, pytest.raises(PermissionDeniedError, match="audit:read"):
        entries(s, actor=sales)
