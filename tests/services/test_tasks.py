"""Tasks: completion exactly once under concurrency, cadence follow-ups, who may see what."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pandas as pd
import pytest
from sqlalchemy import func, select

from clm.errors import ConflictError, NotFoundError, PermissionDeniedError
from clm.services.audit import transaction
from clm.services.playbooks import default_playbook
from clm.services.tasks import (
    assign,
    cancel_task,
    complete_task,
    create_task,
    due_tasks,
    list_tasks,
)
from clm.store.engine import Store
from clm.store.tables import AuditEntry, Task

NOW = dt.datetime(2024, 3, 2, 10, 0, tzinfo=dt.UTC)


def _first_task(store, customer_id="c000") -> Task:
    with store.session() as s:
        return s.scalars(select(Task).where(Task.customer_id == customer_id)
                         .order_by(Task.due_on, Task.id)).first()


def _completions(store, task_id) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.entity == "task", AuditEntry.action == "complete",
            AuditEntry.entity_id == str(task_id)))


def test_racing_completions_from_separate_connections_record_it_once(
    store, migrated_url, sync, make_frames, admin
):
    sync(*make_frames(1, stages=["new"]))
    task_id = _first_task(store).id
    stores = [Store.open(migrated_url, migrate=False) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def worker(own: Store) -> None:
        with own.session() as s:
            barrier.wait()
            try:
                complete_task(s, actor=admin, task_id=task_id, now=NOW)
                outcomes.append("done")
            except ConflictError:
                outcomes.append("conflict")

    threads = [threading.Thread(target=worker, args=(own,)) for own in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for own in stores:
        own.dispose()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "done"]
    assert _completions(store, task_id) == 1
    with store.session() as s:
        task = s.get(Task, task_id)
    assert (task.status, task.version) == ("done", 2)


def test_a_completion_waiting_on_an_uncommitted_one_is_told_it_is_done(
    store, migrated_url, sync, make_frames, admin
):
    """First transaction completes but has not committed; the second must wait, then lose."""
    sync(*make_frames(1, stages=["new"]))
    task_id = _first_task(store).id
    other = Store.open(migrated_url, migrate=False)
    result: list[object] = []
    def second() -> None:
        with other.session() as s:
            try:
                complete_task(s, actor=admin, task_id=task_id, now=NOW)
                result.append("done")
            except ConflictError as exc:
                result.append(exc)

    thread = threading.Thread(target=second)
    with store.session() as first:
        with transaction(first):
            complete_task(first, actor=admin, task_id=task_id, now=NOW)  # joins, no commit yet
            thread.start()
            time.sleep(0.5)  # let the second reach its lock wait; correctness does not need it
            assert result == []
        thread.join()  # the first committed on leaving its unit of work
    other.dispose()
    assert isinstance(result[0], ConflictError) and "already done" in str(result[0])
    assert _completions(store, task_id) == 1


def test_completing_the_last_playbook_task_opens_the_next_cadence_follow_up(
    store, sync, make_frames, admin
):
    sync(*make_frames(1, stages=["mature"]))
    with store.session() as s:
        ids = s.scalars(select(Task.id).where(Task.customer_id == "c000")).all()
        complete_task(s, actor=admin, task_id=ids[0], now=NOW)
        assert s.scalar(select(func.count()).select_from(Task)
                        .where(Task.kind == "cadence_follow_up")) == 0
        complete_task(s, actor=admin, task_id=ids[1], now=NOW)
        follow = s.scalars(select(Task).where(Task.kind == "cadence_follow_up")).one()
    assert follow.due_on == dt.date(2024, 4, 2)  # mature: monthly, from the completion day
    assert follow.status == "open" and follow.stage == "mature"
    assert (follow.title, follow.title_zh) == ("Monthly follow-up", "每月跟进")


def test_only_the_assignee_or_a_manager_may_complete(store, sync, make_frames, new_user):
    mei = new_user("mei", "success")
    lei = new_user("lei", "success")
    boss = new_user("boss", "manager")
    sync(*make_frames(1, stages=["new"], owners=["mei"]))
    task = _first_task(store)
    assert task.assignee_id == mei.user_id
    with store.session() as s:
        with pytest.raises(PermissionDeniedError, match="assigned to someone else"):
            complete_task(s, actor=lei, task_id=task.id, now=NOW)
        assert complete_task(s, actor=boss, task_id=task.id, now=NOW).status == "done"


def test_completing_a_missing_task_is_not_found(store, admin):
    with store.session() as s, pytest.raises(NotFoundError, match="task 999"):
        complete_task(s, actor=admin, task_id=999, now=NOW)


def test_a_stale_version_is_refused(store, sync, make_frames, admin):
    sync(*make_frames(1, stages=["new"]))
    task = _first_task(store)
    with store.session() as s, pytest.raises(ConflictError, match="changed since version 7"):
        complete_task(s, actor=admin, task_id=task.id, expected_version=7, now=NOW)


def test_manual_tasks_are_created_audited_and_cancelled_once(store, sync, make_frames, admin):
    sync(*make_frames(1, stages=["growing"]), open_entry_tasks=False)
    with store.session() as s:
        task = create_task(s, actor=admin, customer_id="c000", title="Send the contract",
                           due_on=dt.date(2024, 3, 4), now=NOW)
        assert (task.stage, task.origin, task.assignee_id) == ("growing", "manual", admin.user_id)
        cancel_task(s, actor=admin, task_id=task.id, now=NOW)
        with pytest.raises(ConflictError):
            cancel_task(s, actor=admin, task_id=task.id, now=NOW)
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "task")
                            .order_by(AuditEntry.id)).all()
    assert actions == ["create", "cancel"]


def test_users_list_their_own_tasks_and_due_ones_include_overdue(store, sync, make_frames,
                                                                 new_user):
    mei = new_user("mei", "success")
    lei = new_user("lei", "success")
    sync(*make_frames(2, stages=["new", "new"], owners=["mei", "lei"]))
    with store.session() as s:
        mine = list_tasks(s, actor=mei)
        assert {t.customer_id for t in mine} == {"c000"} and len(mine) == 5
        with pytest.raises(PermissionDeniedError):
            list_tasks(s, actor=mei, assignee_id=lei.user_id)
        due = due_tasks(s, user_id=mei.user_id, as_of=dt.date(2024, 3, 10))
    assert [t.due_on for t in due] == [dt.date(2024, 3, 2), dt.date(2024, 3, 9)]


def test_assignment_keeps_fitting_owners_then_picks_the_least_loaded_lowest_id():
    entries = pd.DataFrame({
        "customer_id": ["d", "a", "c", "b"], "stage": ["new"] * 4,
        "owner_user_id": [None, 10, None, 11], "n_tasks": [2, 2, 2, 2],
    })
    users = pd.DataFrame({"user_id": [12, 10, 11], "role": ["success", "success", "sales"]})
    load = {12: 3}
    chosen = assign(entries, playbook=default_playbook(), users=users, load=load)
    # a stays with its owner 10 (success fits "new"); b's owner is sales, so b, c, d are
    # spread in id order: b -> 10 (load 2 < 3), c -> 12 (3 < 4), d -> 10 (4 < 5)
    assert dict(zip(entries["customer_id"], chosen.tolist(), strict=True)) == {
        "a": 10, "b": 10, "c": 12, "d": 10}
    assert load == {10: 6, 12: 5}
