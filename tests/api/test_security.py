"""Without valid credentials every /api/v1 route answers 401 in the one error shape."""

from __future__ import annotations

import re

import pytest
from api_helpers import PASSWORD, TestClient

TOKEN_PATH = "/api/v1/auth/token"


def _operations(app) -> list[tuple[str, str]]:
    """Every (method, concrete path) of the API from its OpenAPI document."""
    spec = app.openapi()
    out = []
    for path, item in spec["paths"].items():
        concrete = re.sub(r"\{customer_id\}", "c000", path)
        concrete = re.sub(r"\{[a-z_]+\}", "1", concrete)
        out.extend((method.upper(), concrete) for method in item)
    return out


def _assert_401(response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "unauthorized"
    assert set(body["error"]) == {"code", "message", "context"}


def test_openapi_lists_the_resources(app):
    paths = set(app.openapi()["paths"])
    for expected in (
        "/api/v1/customers",
        "/api/v1/customers/{customer_id}/record",
        "/api/v1/customers/{customer_id}/stages",
        "/api/v1/customers/{customer_id}/follow-ups",
        "/api/v1/customers/{customer_id}/consents",
        "/api/v1/customers/{customer_id}/erasure",
        "/api/v1/customers/{customer_id}/export",
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}/complete",
        "/api/v1/playbooks",
        "/api/v1/playbooks/active",
        "/api/v1/audit",
        "/api/v1/users",
    ):
        assert expected in paths


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer clm_not-a-real-token"},
        {"Authorization": "Basic YWRtaW46cGFzc3dvcmQ="},
        {"Authorization": "Bearer"},
    ],
    ids=["none", "unknown-token", "basic", "empty-bearer"],
)
def test_every_route_answers_401_without_valid_credentials(org, headers):
    client = TestClient(org.app)
    operations = [op for op in _operations(org.app) if op[1] != TOKEN_PATH]
    assert len(operations) >= 15
    for method, path in operations:
        _assert_401(client.request(method, path, headers=headers, json={"x": 1}))


def test_malformed_bodies_and_unknown_paths_also_answer_401(org):
    client = TestClient(org.app)
    _assert_401(
        client.post(
            "/api/v1/customers/c000/follow-ups",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
    )
    _assert_401(client.get("/api/v1/no-such-thing"))
    _assert_401(client.delete("/api/v1/customers"))


def test_token_endpoint_refuses_a_wrong_password_with_401(org):
    client = TestClient(org.app)
    _assert_401(client.post(TOKEN_PATH, json={"login": "admin", "password": "wrong password"}))
    _assert_401(client.post(TOKEN_PATH, json={"login": "nobody", "password": "wrong password"}))


def test_a_token_from_login_and_password_opens_the_api(org):
    client = TestClient(org.app)
    response = client.post(TOKEN_PATH, json={"login": "admin", "password": PASSWORD})
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["login"] == "admin" and "users:manage" in me.json()["permissions"]


def test_failed_logins_are_rate_limited(org):
    client = TestClient(org.app)
    for _ in range(5):
        _assert_401(client.post(TOKEN_PATH, json={"login": "admin", "password": "bad password"}))
    locked = client.post(TOKEN_PATH, json={"login": "admin", "password": PASSWORD})
    _assert_401(locked)
    assert "too many failed sign-ins" in locked.json()["error"]["message"]


def test_a_revoked_token_is_refused(org):
    from clm.services.actors import Actor
    from clm.services.users import revoke_token
    from clm.store.tables import ApiToken

    client = org.client("alice")
    assert client.get("/api/v1/me").status_code == 200
    with org.session() as s:
        token_id = s.query(ApiToken.id).filter(ApiToken.user_id == org.users["alice"]).scalar()
        revoke_token(s, actor=Actor.system(), token_id=token_id)
    _assert_401(client.get("/api/v1/me"))


def test_openapi_declares_the_bearer_scheme_and_the_error_shape(app):
    spec = app.openapi()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert "401" in op["responses"], (method, path)
            assert "422" in op["responses"], (method, path)
            ref = op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorOut"), (method, path)
