"""Users (admin): create, change role or password, issue tokens."""

from __future__ import annotations

from api_helpers import TestClient


def test_admin_creates_a_user_who_can_sign_in(org):
    admin = org.client("admin")
    created = admin.post(
        "/api/v1/users",
        json={"login": "sue", "name": "Sue", "role": "support", "password": "a long password"},
    )
    assert created.status_code == 201, created.text
    assert (
        created.json()["role"] == "support" and "contacts:unmask" in created.json()["permissions"]
    )
    token = TestClient(org.app).post(
        "/api/v1/auth/token", json={"login": "sue", "password": "a long password"}
    )
    assert token.status_code == 200
    assert "sue" in [u["login"] for u in admin.get("/api/v1/users").json()]


def test_a_taken_login_is_a_conflict(org):
    response = org.client("admin").post(
        "/api/v1/users", json={"login": "alice", "name": "Alice 2", "role": "sales"}
    )
    assert response.status_code == 409 and response.json()["error"]["context"]["field"] == "login"


def test_only_user_managers_manage_users(org):
    alice = org.client("alice")
    assert alice.get("/api/v1/users").status_code == 403
    assert (
        alice.post("/api/v1/users", json={"login": "x1", "name": "X", "role": "sales"}).status_code
        == 403
    )
    assert (
        alice.patch(f"/api/v1/users/{org.users['bob']}", json={"role": "admin"}).status_code == 403
    )


def test_role_change_takes_effect_on_the_next_request(org):
    alice = org.client("alice")
    assert len(alice.get("/api/v1/customers").json()["items"]) == 3
    changed = org.client("admin").patch(
        f"/api/v1/users/{org.users['alice']}", json={"role": "manager"}
    )
    assert changed.status_code == 200 and changed.json()["role"] == "manager"
    assert len(alice.get("/api/v1/customers").json()["items"]) == 6
    assert (
        org.client("admin").patch("/api/v1/users/9999", json={"role": "sales"}).status_code == 404
    )


def test_tokens_for_yourself_or_by_an_admin(org):
    own = org.client("alice").post(f"/api/v1/users/{org.users['alice']}/tokens", json={})
    assert own.status_code == 201 and own.json()["access_token"].startswith("clm_")
    other = org.client("alice").post(f"/api/v1/users/{org.users['bob']}/tokens", json={})
    assert other.status_code == 403
