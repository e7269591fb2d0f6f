"""The customer tracking record of spec section 4, in one call."""

from __future__ import annotations

import datetime as dt

import pytest
from api_helpers import BOTH, add_metrics


@BOTH
def test_record_holds_every_section_of_the_tracking_record(org):
    add_metrics(org, "c001")
    response = org.client("alice").get("/api/v1/customers/c001/record")
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["customer"]["name"] == "Li Na" and record["customer"]["phone"] == "138****8888"
    assert record["stage"]["stage"] == "new" and record["stage"]["since"] == "2024-02-20"
    assert record["stage"]["previous_stage"] == "prospect"
    assert [t["to_stage"] for t in record["timeline"]] == ["prospect", "new"]
    assert record["timeline"][0]["reasons"] == ["visited 3 pages"]
    metrics = record["metrics"]
    assert metrics["order_count"] == 3 and metrics["total_spend"] == 300.0
    assert metrics["first_order_date"] == "2024-02-20" and metrics["active_days_30d"] == 11
    assert metrics["feature_usage"] == {"reports": 7, "export": 2}
    notes = {n["kind"]: n["text"] for n in record["notes"]}
    assert notes["referrals_90d"]["en"] == "Referred 2 customer(s) in the last 90 days"
    assert notes["referrals_90d"]["zh-CN"] == "近90天推荐了2位客户"
    assert "9.5" in notes["satisfaction_latest"]["zh-CN"]
    assert "complaints_90d" not in notes
    strategy = record["strategy"]
    assert strategy["stage"] == "new" and strategy["owner_roles"] == ["success"]
    assert strategy["goal"] == {
        "en": "Activate fast and build trust",
        "zh-CN": "快速激活，建立信任",
    }
    assert strategy["cadence"] == "weekly" and len(strategy["actions"]) == 3
    assert record["owner"]["login"] == "alice" and record["owner"]["role"] == "sales"
    assert record["open_tasks"], "the sync opened the new stage's entry tasks"
    assert record["next_follow_up"] == record["open_tasks"][0]
    assert record["next_follow_up"]["title"]["zh-CN"] == "新手引导电话"


def test_record_without_metrics_still_answers(org):
    record = org.client("alice").get("/api/v1/customers/c000/record").json()
    assert record["metrics"] is None and record["notes"] == []
    assert record["stage"]["stage"] == "prospect"


def test_record_shows_follow_ups_newest_first_and_the_next_plan(org):
    client = org.client("alice")
    for day, purpose in (("2024-03-01", "Send the price list"), ("2024-03-02", "Demo call")):
        response = client.post(
            "/api/v1/customers/c000/follow-ups",
            json={
                "occurred_on": day,
                "channel": "phone",
                "summary": f"called on {day}",
                "next_date": "2024-03-04" if purpose == "Demo call" else "2024-03-20",
                "next_purpose": purpose,
            },
        )
        assert response.status_code == 201, response.text
    record = client.get("/api/v1/customers/c000/record").json()
    assert [f["occurred_on"] for f in record["follow_ups"]] == ["2024-03-02", "2024-03-01"]
    assert record["follow_ups"][0]["next_purpose"] == "Demo call"
    assert record["next_follow_up"]["due_on"] <= "2024-03-04"
    assert "Demo call" in [t["title"]["en"] for t in record["open_tasks"]]


@BOTH
def test_unmasked_record_is_audited_and_masked_one_is_not(org):
    client = org.client("alice")
    client.get("/api/v1/customers/c001/record")
    unmasked = client.get("/api/v1/customers/c001/record?unmask=true").json()
    assert unmasked["customer"]["email"] == "user1@example.com"
    reads = [
        a
        for a in org.client("admin").get("/api/v1/audit?customer_id=c001").json()
        if a["action"] == "read_unmasked"
    ]
    assert len(reads) == 1 and reads[0]["actor_user_id"] == org.users["alice"]


def test_strategy_follows_the_playbook_in_force(org):
    from clm.services.playbooks import default_playbook

    text = default_playbook().content.replace(
        "Activate fast and build trust", "Activate within a week"
    )
    uploaded = org.client("admin").post("/api/v1/playbooks", json={"content": text})
    assert uploaded.status_code == 201, uploaded.text
    record = org.client("alice").get("/api/v1/customers/c001/record").json()
    assert record["strategy"]["goal"]["en"] == "Activate within a week"
    assert record["strategy"]["playbook_version_id"] == uploaded.json()["id"]


TAG = {"name": "needs-training", "label_en": "Needs training", "label_zh": "培训需求型"}
PG_ONLY = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def _rich(org) -> None:
    """Every section filled: metrics, two follow-ups with a next plan, a tag, a task without a
    Chinese title, a transition whose reasons are plain text rather than a JSON list."""
    from clm.store.tables import StageTransition, Task

    add_metrics(org, "c001")
    alice = org.client("alice")
    for day in ("2024-03-01", "2024-03-02"):
        response = alice.post(
            "/api/v1/customers/c001/follow-ups",
            json={
                "occurred_on": day,
                "channel": "phone",
                "summary": f"called on {day} «引号»",
                "next_date": "2024-03-09",
                "next_purpose": "Demo call",
            },
        )
        assert response.status_code == 201, response.text
    assert org.client("admin").post("/api/v1/tags", json=TAG).status_code == 201
    assert alice.put("/api/v1/customers/c001/tags/needs-training").status_code == 200
    with org.session() as s:
        task = s.query(Task).filter(Task.customer_id == "c001").first()
        task.title_zh = ""
        s.add(
            StageTransition(
                customer_id="c001",
                from_stage=None,
                to_stage="prospect",
                changed_on=dt.date(2023, 12, 1),
                reasons="imported by hand",
                model_version="manual@0",
                run_id="hand",
            )
        )
        s.commit()


@PG_ONLY
def test_the_one_statement_record_equals_the_orm_record(org):
    """On PostgreSQL the API reads the record in one SQL statement; it must say exactly what
    ``tracking_record`` says, section by section, for owners, managers, masked and unmasked."""
    import orjson

    from clm.services.actors import Actor
    from clm.services.reads import dumps
    from clm.services.record import record_json, tracking_record

    _rich(org)
    alice = Actor(user_id=org.users["alice"], login="alice", role="sales")
    manager = Actor(user_id=org.users["max"], login="max", role="manager")
    cases = [(alice, "c001", False), (alice, "c001", True), (manager, "c004", False)]
    cases += [(manager, c, True) for c in ("c000", "c003", "c005")]
    for actor, customer_id, unmask in cases:
        with org.session() as s:
            expected = orjson.loads(
                dumps(tracking_record(s, actor=actor, customer_id=customer_id, unmask=unmask))
            )
        with org.session() as s:
            got = orjson.loads(
                record_json(s, actor=actor, customer_id=customer_id, unmask=unmask)
            )
        for section in expected:
            assert got[section] == expected[section], (customer_id, unmask, section)
        assert list(got) == list(expected)
    record = org.client("alice").get("/api/v1/customers/c001/record").json()
    assert [f["occurred_on"] for f in record["follow_ups"]] == ["2024-03-02", "2024-03-01"]
    assert record["timeline"][0]["reasons"] == ["imported by hand"]
    assert record["tags"][0]["label"]["zh-CN"] == "培训需求型"
    assert record["metrics"]["total_spend"] == 300.0


@BOTH
def test_the_record_answer_matches_its_documented_schema(org):
    from clm.api.schemas.customers import RecordOut

    _rich(org)
    response = org.client("alice").get("/api/v1/customers/c001/record?unmask=true")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    record = RecordOut.model_validate_json(response.content)
    assert record.customer.email == "user1@example.com" and not record.customer.contacts_masked
    assert record.model_dump(mode="json") == response.json()


@BOTH
def test_a_customer_you_do_not_own_is_not_found_and_nothing_is_audited(org):
    from api_helpers import counts

    before = counts(org)
    for path in ("/api/v1/customers/c003/record", "/api/v1/customers/c003/record?unmask=true"):
        response = org.client("alice").get(path)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
    assert org.client("pat").get("/api/v1/customers/c003/record?unmask=true").status_code == 403
    assert counts(org) == before
