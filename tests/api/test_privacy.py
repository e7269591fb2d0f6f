"""Consent (record, list), erasure and the subject-access export, and the audit log."""

from __future__ import annotations

from api_helpers import BOTH

GRANT = {
    "purpose": "marketing",
    "channel": "email",
    "status": "granted",
    "at": "2024-03-01T10:00:00+08:00",
    "source": "signup form",
}


@BOTH
def test_consent_events_are_recorded_and_the_latest_is_in_force(org):
    client = org.client("alice")
    assert client.post("/api/v1/customers/c000/consents", json=GRANT).status_code == 201
    withdrawn = {**GRANT, "status": "withdrawn", "at": "2024-03-02T10:00:00Z", "source": "link"}
    assert client.post("/api/v1/customers/c000/consents", json=withdrawn).status_code == 201
    state = client.get("/api/v1/customers/c000/consents").json()
    assert [e["status"] for e in state["events"]] == ["granted", "withdrawn"]
    assert [(c["purpose"], c["status"]) for c in state["in_force"]] == [("marketing", "withdrawn")]


def test_consent_needs_the_permission_and_a_visible_customer(org):
    assert org.client("pat").post("/api/v1/customers/c000/consents", json=GRANT).status_code == 403
    assert (
        org.client("alice").post("/api/v1/customers/c003/consents", json=GRANT).status_code == 404
    )


@BOTH
def test_erasure_anonymises_the_customer_and_keeps_the_stage(org):
    response = org.client("admin").post("/api/v1/customers/c001/erasure")
    assert response.status_code == 200, response.text
    assert response.json()["customer_id"] == "c001" and response.json()["warehouse_rows"] is None
    card = org.client("admin").get("/api/v1/customers/c001?unmask=true").json()
    assert card["name"] == "[erased]" and card["phone"] is None and card["erased"] is True
    assert card["stage"] == "new"


def test_erasure_is_for_admins_only(org):
    refused = org.client("max").post("/api/v1/customers/c001/erasure")
    assert refused.status_code == 403
    assert refused.json()["error"]["context"]["permission"] == "privacy:erase"


def test_subject_access_export_holds_everything_and_is_audited(org):
    export = org.client("max").get("/api/v1/customers/c001/export")
    assert export.status_code == 200
    body = export.json()
    assert body["customer"]["phone"] == "13800018888"
    assert [t["to_stage"] for t in body["transitions"]] == ["prospect", "new"]
    assert body["tasks"]
    audit = org.client("admin").get("/api/v1/audit?customer_id=c001").json()
    assert audit[0]["action"] == "subject_access_export"
    assert audit[0]["actor_user_id"] == org.users["max"]


def test_audit_log_is_for_admins_and_managers(org):
    assert org.client("max").get("/api/v1/audit").status_code == 200
    refused = org.client("alice").get("/api/v1/audit")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"


def test_engine_stage_changes_are_audited_as_the_run(org):
    audit = org.client("admin").get("/api/v1/audit?customer_id=c002&limit=50").json()
    by_run = [a for a in audit if a["actor_run_id"] == "run-1"]
    assert by_run and all(a["model_version"] == "default@1" for a in by_run)
