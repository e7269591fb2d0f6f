"""Every failure answers the one error shape; every write endpoint refuses bad input with it."""

from __future__ import annotations

import re

import pytest
from api_helpers import counts


def _shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"]
    assert set(body["error"]) == {"code", "message", "context"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def _writes(app) -> list[tuple[str, str]]:
    out = []
    for path, item in app.openapi()["paths"].items():
        for method, op in item.items():
            if method in ("post", "put", "patch", "delete") and "requestBody" in op:
                concrete = path.replace("{customer_id}", "c000")
                out.append((method.upper(), re.sub(r"\{[a-z_]+\}", "1", concrete)))
    return out


def test_unknown_path_and_wrong_method_answer_in_the_one_shape(org):
    client = org.client("admin")
    _shape(client.get("/api/v1/no-such-thing"), 404, "not_found")
    _shape(client.delete("/api/v1/customers"), 405, "method_not_allowed")


def test_service_errors_keep_their_code_status_and_context(org):
    client = org.client("admin")
    error = _shape(client.get("/api/v1/customers/nobody/record"), 404, "not_found")
    assert error["context"] == {"field": "customer_id"}
    error = _shape(client.post("/api/v1/tasks/999999/complete"), 404, "not_found")
    assert error["context"]["field"] == "task_id"


def test_query_validation_names_the_field(org):
    error = _shape(org.client("admin").get("/api/v1/customers?limit=0"), 422, "input_error")
    assert error["context"]["field"] == "limit" and error["context"]["location"] == "query"


def test_every_write_endpoint_refuses_bad_input_in_the_one_shape_and_writes_nothing(org):
    client = org.client("admin")
    writes = _writes(org.app)
    assert len(writes) >= 8
    before = counts(org)
    for method, path in writes:
        wrong_fields = client.request(method, path, json={"no_such_field": [1, 2]})
        error = _shape(wrong_fields, 422, "input_error")
        assert error["context"]["field"], (method, path)
        assert error["context"]["location"] == "body"
        not_json = client.request(
            method, path, content=b"{oops", headers={"Content-Type": "application/json"}
        )
        _shape(not_json, 422, "input_error")
        wrong_type = client.request(method, path, json=["not", "an", "object"])
        _shape(wrong_type, 422, "input_error")
    assert counts(org) == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/v1/customers/c000/follow-ups",
            {"occurred_on": "2024-03-01", "channel": "fax", "summary": "x"},
            "channel",
        ),
        (
            "/api/v1/customers/c000/follow-ups",
            {"occurred_on": "2024-13-01", "channel": "phone", "summary": "x"},
            "occurred_on",
        ),
        (
            "/api/v1/customers/c000/follow-ups",
            {"occurred_on": "2024-03-01", "channel": "phone", "summary": "nul \x00 inside"},
            "summary",
        ),
        (
            "/api/v1/customers/c000/consents",
            {
                "purpose": "marketing",
                "channel": "email",
                "status": "granted",
                "at": "2024-03-01T10:00:00",
                "source": "form",
            },
            "at",
        ),
        ("/api/v1/users", {"login": "xy", "name": "X", "role": "king"}, "role"),
        ("/api/v1/playbooks", {"content": 42}, "content"),
    ],
    ids=["channel", "date", "nul", "naive-time", "role", "content-type"],
)
def test_invalid_fields_are_named(org, path, body, field):
    error = _shape(org.client("admin").post(path, json=body), 422, "input_error")
    assert error["context"]["field"] == field


def test_service_validation_is_a_422_naming_the_field(org):
    client = org.client("admin")
    response = client.post(
        "/api/v1/customers/c000/follow-ups",
        json={
            "occurred_on": "2024-03-01",
            "channel": "phone",
            "summary": "called",
            "next_date": "2024-03-08",
        },
    )
    assert _shape(response, 422, "input_error")["context"]["field"] == "next_purpose"
    short = client.post(
        "/api/v1/users", json={"login": "neo", "name": "Neo", "role": "sales", "password": "short"}
    )
    assert _shape(short, 422, "input_error")["context"]["field"] == "password"


def test_an_unexpected_error_is_a_500_in_the_one_shape_without_a_traceback(org, monkeypatch):
    from api_helpers import TestClient

    from clm.services import customers

    def broken(*_a, **_k):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(customers, "search_customers", broken)
    client = TestClient(org.app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {org.tokens['admin']}"
    error = _shape(client.get("/api/v1/customers"), 500, "internal_error")
    assert "fire" not in error["message"] and "Traceback" not in error["message"]
