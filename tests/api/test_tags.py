"""Tags, segments and strategy effectiveness over the API."""

from __future__ import annotations

TAG = {"name": "needs-training", "label_en": "Needs training", "label_zh": "培训需求型"}


def test_a_manual_tag_is_defined_put_on_and_taken_off(org):
    admin = org.client("admin")
    created = admin.post("/api/v1/tags", json=TAG)
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "manual" and created.json()["customers"] == 0
    alice = org.client("alice")
    put = alice.put("/api/v1/customers/c000/tags/needs-training")
    assert put.status_code == 200 and put.json()["changed"] is True
    assert alice.put("/api/v1/customers/c000/tags/needs-training").json()["changed"] is False
    listed = {t["name"]: t for t in alice.get("/api/v1/tags").json()}
    assert listed["needs-training"]["customers"] == 1
    ids = [
        c["customer_id"] for c in alice.get("/api/v1/customers?tag=needs-training").json()["items"]
    ]
    assert ids == ["c000"]
    record = alice.get("/api/v1/customers/c000/record").json()
    assert record["tags"][0]["label"] == {"en": "Needs training", "zh-CN": "培训需求型"}
    off = alice.delete("/api/v1/customers/c000/tags/needs-training")
    assert off.status_code == 200 and off.json()["changed"] is True


def test_tagging_an_invisible_customer_or_an_unknown_tag_is_404(org):
    org.client("admin").post("/api/v1/tags", json=TAG)
    alice = org.client("alice")
    assert alice.put("/api/v1/customers/c003/tags/needs-training").status_code == 404
    assert alice.put("/api/v1/customers/c000/tags/no-such-tag").status_code == 404


def test_a_bad_rule_is_refused_naming_line_and_column(org):
    response = org.client("admin").post("/api/v1/tags", json={**TAG, "rule": "order_count >>> 2"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "rule" and error["context"]["line"] == 1
    assert error["context"]["column"] == 14


def test_a_segment_is_saved_and_lists_the_members_you_may_see(org):
    saved = org.client("max").post(
        "/api/v1/segments", json={"name": "at risk", "definition": {"stages": ["declining", "new"]}}
    )
    assert saved.status_code == 201, saved.text
    segment_id = saved.json()["id"]
    members = org.client("max").get(f"/api/v1/segments/{segment_id}/members").json()
    assert members["customer_ids"] == ["c001", "c004"] and members["total"] == 2
    mine = org.client("alice").get(f"/api/v1/segments/{segment_id}/members").json()
    assert mine["customer_ids"] == ["c001"]
    assert [s["name"] for s in org.client("alice").get("/api/v1/segments").json()] == ["at risk"]


def test_a_segment_definition_with_an_unknown_field_is_refused(org):
    response = org.client("max").post(
        "/api/v1/segments", json={"name": "x", "definition": {"stagez": ["new"]}}
    )
    assert response.status_code == 422
    assert response.json()["error"]["context"]["field"] == "definition.stagez"


def test_effectiveness_reports_each_stage_and_refuses_a_reversed_period(org):
    report = org.client("alice").get(
        "/api/v1/effectiveness?start=2024-01-01&end=2024-03-01&window_days=30"
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["window_days"] == 30 and body["thresholds"]["min_win_back_rate"] == 0.1
    assert {r["stage"] for r in body["rows"]} >= {"declining", "new"}
    reversed_ = org.client("alice").get("/api/v1/effectiveness?start=2024-03-01&end=2024-01-01")
    assert reversed_.status_code == 422 and reversed_.json()["error"]["context"]["field"] == "end"
