"""Playbooks: versions, the one in force, uploads validated with the line of the mistake."""

from __future__ import annotations

from clm.services.playbooks import default_playbook


def test_the_active_playbook_is_the_one_the_sync_stored(org):
    client = org.client("alice")
    versions = client.get("/api/v1/playbooks").json()
    assert len(versions) == 1 and versions[0]["active"] is True
    active = client.get("/api/v1/playbooks/active").json()
    assert active["version_id"] == versions[0]["id"] and active["name"] == "default"
    assert active["stages"]["declining"]["cadence"] == "twice_a_week"
    assert client.get(f"/api/v1/playbooks/{versions[0]['id']}").json()["content"] == (
        default_playbook().content
    )
    assert client.get("/api/v1/playbooks/999").status_code == 404


def test_the_shipped_default_is_shown_before_any_is_stored(app):
    from api_helpers import TestClient

    from clm.services.actors import Actor
    from clm.services.users import create_user, issue_token

    with app.state.store.session() as s:
        user = create_user(s, actor=Actor.system(), login="solo", name="Solo", role="sales")
        token = issue_token(s, actor=Actor.system(), user_id=user.id, name="t").token
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    active = client.get("/api/v1/playbooks/active").json()
    assert active["version_id"] is None and "new" in active["stages"]


def test_uploading_a_new_version_makes_it_active_and_keeps_the_old(org):
    text = default_playbook().content.replace("cadence: monthly", "cadence: 14 days", 1)
    client = org.client("max")
    created = client.post("/api/v1/playbooks", json={"content": text, "file_name": "mine.yaml"})
    assert created.status_code == 201, created.text
    versions = client.get("/api/v1/playbooks").json()
    assert [v["active"] for v in versions] == [True, False]
    assert versions[0]["id"] == created.json()["id"]
    assert "14 days" in {
        s["cadence"] for s in client.get("/api/v1/playbooks/active").json()["stages"].values()
    }


def test_a_bad_playbook_is_refused_naming_file_line_and_field(org):
    text = default_playbook().content.replace("cadence: monthly", "cadence: fortnightly", 1)
    line = text.splitlines().index("    cadence: fortnightly") + 1
    response = org.client("max").post(
        "/api/v1/playbooks", json={"content": text, "file_name": "mine.yaml"}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "rule"
    assert error["context"]["file"] == "mine.yaml" and error["context"]["line"] == line
    assert error["context"]["field"].endswith(".cadence")
    assert error["message"].startswith(f"mine.yaml:{line}:")
    assert len(org.client("max").get("/api/v1/playbooks").json()) == 1


def test_not_valid_yaml_names_the_line(org):
    response = org.client("max").post(
        "/api/v1/playbooks", json={"content": "name: x\nstages: [unclosed\n"}
    )
    assert response.status_code == 422 and response.json()["error"]["context"]["line"] >= 2


def test_uploading_needs_playbooks_edit(org):
    refused = org.client("alice").post(
        "/api/v1/playbooks", json={"content": default_playbook().content}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["context"]["permission"] == "playbooks:edit"
