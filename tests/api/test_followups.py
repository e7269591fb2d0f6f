"""Follow-ups: recorded with their next plan as the next task, all or nothing."""

from __future__ import annotations

from api_helpers import BOTH, counts

BODY = {
    "occurred_on": "2024-03-01",
    "channel": "wechat",
    "summary": "Agreed to try the reports module",
    "outcome": "positive",
    "next_date": "2024-03-08",
    "next_purpose": "Check the trial",
}


@BOTH
def test_a_follow_up_with_a_next_plan_opens_the_next_task(org):
    client = org.client("alice")
    response = client.post("/api/v1/customers/c000/follow-ups", json=BODY)
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["follow_up"]["channel"] == "wechat"
    task = result["next_task"]
    assert task["title"] == "Check the trial" and task["due_on"] == "2024-03-08"
    assert task["assignee_id"] == org.users["alice"] and task["origin"] == "follow_up"
    assert result["follow_up"]["next_task_id"] == task["id"]
    listed = client.get("/api/v1/customers/c000/follow-ups").json()
    assert [f["id"] for f in listed] == [result["follow_up"]["id"]]


@BOTH
def test_a_follow_up_whose_next_task_cannot_be_created_is_not_saved(org):
    before = counts(org)
    response = org.client("alice").post(
        "/api/v1/customers/c000/follow-ups", json={**BODY, "assignee_id": 99999}
    )
    assert response.status_code == 422
    assert response.json()["error"]["context"]["field"] == "assignee_id"
    assert counts(org) == before


def test_a_follow_up_that_carries_out_a_task_completes_it(org):
    client = org.client("alice")
    task = next(t for t in client.get("/api/v1/tasks").json() if t["customer_id"] == "c000")
    result = client.post(
        "/api/v1/customers/c000/follow-ups", json={**BODY, "task_id": task["id"]}
    ).json()
    assert result["completed_task"]["id"] == task["id"]
    assert result["completed_task"]["status"] == "done"


def test_a_follow_up_on_an_invisible_customer_is_404_and_without_permission_403(org):
    assert (
        org.client("alice").post("/api/v1/customers/c003/follow-ups", json=BODY).status_code == 404
    )
    refused = org.client("pat").post("/api/v1/customers/c000/follow-ups", json=BODY)
    assert refused.status_code == 403
    assert refused.json()["error"]["context"]["permission"] == "followups:write"
