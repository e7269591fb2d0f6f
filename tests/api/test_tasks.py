"""Tasks: mine, due, overdue; completing a task exactly once, even from two clients at once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from api_helpers import BOTH


def _task_of(org, login: str) -> dict:
    tasks = org.client(login).get("/api/v1/tasks").json()
    assert tasks, f"{login} has no task"
    return tasks[0]


def test_my_tasks_are_mine_and_everyone_needs_tasks_all(org):
    alice = org.client("alice")
    mine = alice.get("/api/v1/tasks").json()
    assert mine and {t["assignee_id"] for t in mine} == {org.users["alice"]}
    refused = alice.get("/api/v1/tasks?everyone=true")
    assert refused.status_code == 403
    assert refused.json()["error"]["context"]["permission"] == "tasks:all"
    everyone = org.client("max").get("/api/v1/tasks?everyone=true&limit=500").json()
    assert len({t["assignee_id"] for t in everyone}) > 1
    other = alice.get(f"/api/v1/tasks?assignee_id={org.users['bob']}")
    assert other.status_code == 403


def test_due_and_overdue_are_relative_to_as_of(org):
    alice = org.client("alice")
    every = alice.get("/api/v1/tasks").json()
    first_due = min(t["due_on"] for t in every)
    due = alice.get(f"/api/v1/tasks?due=due&as_of={first_due}").json()
    overdue = alice.get(f"/api/v1/tasks?due=overdue&as_of={first_due}").json()
    assert due and all(t["due_on"] <= first_due for t in due)
    assert overdue == []
    later = alice.get("/api/v1/tasks?due=overdue&as_of=2030-01-01").json()
    assert len(later) == len(every)


@BOTH
def test_completing_a_task_twice_answers_409_the_second_time(org):
    task = _task_of(org, "alice")
    client = org.client("alice")
    done = client.post(f"/api/v1/tasks/{task['id']}/complete")
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert done.json()["version"] == task["version"] + 1
    again = client.post(f"/api/v1/tasks/{task['id']}/complete")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_a_stale_expected_version_is_refused(org):
    task = _task_of(org, "alice")
    stale = org.client("alice").post(
        f"/api/v1/tasks/{task['id']}/complete", json={"expected_version": task["version"] + 5}
    )
    assert stale.status_code == 409


def test_someone_elses_task_cannot_be_completed_without_tasks_all(org):
    task = _task_of(org, "bob")
    refused = org.client("alice").post(f"/api/v1/tasks/{task['id']}/complete")
    assert refused.status_code == 403
    assert org.client("max").post(f"/api/v1/tasks/{task['id']}/complete").status_code == 200


@BOTH
def test_concurrent_completion_from_two_clients_is_recorded_once(org):
    task = _task_of(org, "alice")
    clients = [org.client("alice"), org.client("max")]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def complete(client) -> None:
        barrier.wait()
        statuses.append(client.post(f"/api/v1/tasks/{task['id']}/complete").status_code)

    threads = [threading.Thread(target=complete, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    audit = org.client("admin").get("/api/v1/audit?entity=task&limit=1000").json()
    completions = [
        a for a in audit if a["action"] == "complete" and a["entity_id"] == str(task["id"])
    ]
    assert len(completions) == 1


def test_cancel_closes_an_open_task(org):
    task = _task_of(org, "alice")
    cancelled = org.client("alice").post(f"/api/v1/tasks/{task['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    listed = org.client("alice").get("/api/v1/tasks?status=cancelled").json()
    assert [t["id"] for t in listed] == [task["id"]]


PG_ONLY = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@PG_ONLY
def test_the_one_statement_task_list_equals_the_orm_list(org):
    """On PostgreSQL the API lists tasks through the driver; every filter must give what
    ``list_tasks`` gives, written as ``TaskOut`` writes it (datetimes included)."""
    import orjson

    from clm.api.schemas.tasks import TaskOut
    from clm.services.actors import Actor
    from clm.services.tasks import list_tasks, task_list_json

    task = _task_of(org, "alice")
    assert org.client("alice").post(f"/api/v1/tasks/{task['id']}/complete").status_code == 200
    alice = Actor(user_id=org.users["alice"], login="alice", role="sales")
    manager = Actor(user_id=org.users["max"], login="max", role="manager")
    filters = [
        (alice, {}),
        (alice, {"status": None}),
        (alice, {"status": "done"}),
        (alice, {"customer_id": task["customer_id"], "status": None}),
        (alice, {"due_by": dt.date(2024, 3, 5)}),
        (manager, {"limit": 3, "offset": 2}),
        (manager, {"assignee_id": org.users["bob"], "status": None}),
    ]
    for actor, kwargs in filters:
        with org.session() as s:
            expected = [
                TaskOut.model_validate(t, from_attributes=True).model_dump(mode="json")
                for t in list_tasks(s, actor=actor, **kwargs)
            ]
        with org.session() as s:
            got = orjson.loads(task_list_json(s, actor=actor, **kwargs))
        assert got == expected, kwargs
        assert expected or kwargs.get("due_by"), f"{kwargs} lists nothing: a weak comparison"
    done = org.client("alice").get("/api/v1/tasks?status=done").json()
    assert done[0]["closed_at"].endswith("Z") and done[0]["status"] == "done"


@BOTH
def test_the_task_list_answer_matches_its_documented_schema(org):
    from pydantic import TypeAdapter

    from clm.api.schemas.tasks import TaskOut

    response = org.client("alice").get("/api/v1/tasks?status=any&limit=500")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    tasks = TypeAdapter(list[TaskOut]).validate_json(response.content)
    assert tasks and [t.model_dump(mode="json") for t in tasks] == response.json()
    refused = org.client("alice").get("/api/v1/tasks?status=someday")
    assert refused.status_code == 422 and refused.json()["error"]["context"]["field"] == "status"
