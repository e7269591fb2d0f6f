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


def _token_queries(org):
    """A list that collects every statement reading api_tokens from now on."""
    from sqlalchemy import event

    seen: list[str] = []

    def before(_conn, _cursor, statement, *_args) -> None:
        if "api_tokens" in statement:
            seen.append(statement)

    event.listen(org.app.state.store.engine, "before_cursor_execute", before)
    return seen


def test_a_token_checked_a_moment_ago_is_not_looked_up_again(org):
    client = org.client("mark")
    assert client.get("/api/v1/customers").status_code == 200
    seen = _token_queries(org)
    for _ in range(3):
        assert client.get("/api/v1/customers").status_code == 200
    assert seen == []
    assert org.client("alice").get("/api/v1/customers").status_code == 200
    assert seen, "a token not seen before is checked in the store"


def test_a_role_change_takes_effect_on_the_next_request(org):
    alice = org.client("alice")
    assert alice.get("/api/v1/tasks?everyone=true").status_code == 403
    changed = org.client("admin").patch(
        f"/api/v1/users/{org.users['alice']}", json={"role": "manager"}
    )
    assert changed.status_code == 200, changed.text
    assert alice.get("/api/v1/tasks?everyone=true").status_code == 200


def test_another_process_revoking_a_token_is_seen_within_the_cache_ttl(org):
    """A revocation in another server process reaches this one when the cached answer
    expires (``TOKEN_CACHE_TTL``); in the process that revoked, at once (tested above)."""
    from sqlalchemy import update

    from clm.errors import AuthenticationError
    from clm.services.users import TokenCache, token_actor
    from clm.store.bulk import utcnow
    from clm.store.tables import ApiToken

    now = [0.0]
    cache = TokenCache(ttl=10.0, clock=lambda: now[0])
    sessions = org.app.state.store.sessions
    token = org.tokens["bob"]
    assert token_actor(sessions, token=token, now=utcnow(), cache=cache).login == "bob"
    with org.session() as s:  # what revoke_token does, minus this process's cache
        bobs = update(ApiToken).where(ApiToken.user_id == org.users["bob"])
        s.execute(bobs.values(revoked_at=utcnow()))
        s.commit()
    now[0] = 9.9
    assert token_actor(sessions, token=token, now=utcnow(), cache=cache).login == "bob"
    now[0] = 10.0
    with pytest.raises(AuthenticationError):
        token_actor(sessions, token=token, now=utcnow(), cache=cache)


def test_the_token_cache_keeps_stores_apart_and_forgets_on_request():
    from clm.services.actors import Actor
    from clm.services.users import TokenCache

    cache = TokenCache(ttl=10.0, clock=lambda: 0.0)
    lee = Actor(user_id=1, login="lee", role="sales")
    cache.put("sqlite:///a", "t1", lee, token_id=11, generation=0)
    cache.put("sqlite:///a", "t2", lee, token_id=12, generation=0)
    assert cache.get("sqlite:///a", "t1") == lee and cache.get("sqlite:///b", "t1") is None
    cache.forget(token_id=11)
    assert cache.get("sqlite:///a", "t1") is None and cache.get("sqlite:///a", "t2") == lee
    cache.forget(user_id=1)
    assert cache.get("sqlite:///a", "t2") is None
    cache.put("sqlite:///a", "t1", lee, token_id=11, generation=0)  # read before the forgets
    assert cache.get("sqlite:///a", "t1") is None
