"""The hot path (``clm.api.hot``) answers byte for byte what the routes answer, and leaves
every request it does not recognise to them."""

from __future__ import annotations

import pytest
from api_helpers import BOTH, add_metrics

from clm.api.hot import task_query

LONG_ID = "x" * 100
# (who, request, answered by the hot path?)
REQUESTS = [
    ("alice", "/api/v1/customers/c001/record", True),
    ("alice", "/api/v1/customers/c003/record", True),  # bob's: 404, as the route says
    ("max", "/api/v1/customers/c003/record", True),  # a manager sees everyone's
    ("alice", "/api/v1/customers/nobody/record", True),
    ("alice", f"/api/v1/customers/{LONG_ID}/record", True),
    ("alice", f"/api/v1/customers/{LONG_ID}y/record", False),  # too long: the route's 422
    ("alice", "/api/v1/customers/c%01/record", False),  # a control character: 422
    ("alice", "/api/v1/customers/c001/record?unmask=false", False),
    ("alice", "/api/v1/customers/c001/record?unmask=true", False),
    ("alice", "/api/v1/customers/c001/record/", False),
    ("alice", "/api/v1/tasks", True),
    ("alice", "/api/v1/tasks?limit=1", True),
    ("alice", "/api/v1/tasks?limit=500&offset=0", True),
    ("alice", "/api/v1/tasks?offset=1&limit=2", True),
    ("max", "/api/v1/tasks?limit=50", True),
    ("alice", "/api/v1/tasks?limit=0", False),
    ("alice", "/api/v1/tasks?limit=501", False),
    ("alice", "/api/v1/tasks?limit=050", False),
    ("alice", "/api/v1/tasks?limit=5&limit=6", False),
    ("alice", "/api/v1/tasks?limit=", False),
    ("alice", "/api/v1/tasks?lmit=5", False),
    ("alice", "/api/v1/tasks?status=any", False),
    ("alice", "/api/v1/tasks?everyone=true", False),
]


def _answer(org, login: str, path: str):
    response = org.client(login).get(path, follow_redirects=False)
    return response.status_code, response.headers.get("content-type"), response.content


@BOTH
def test_the_hot_path_answers_exactly_what_the_routes_answer(org, monkeypatch):
    import clm.api.hot as hot

    add_metrics(org, "c001")
    answered = []
    for name in ("read_record", "read_task_list"):
        real = getattr(hot, name)
        monkeypatch.setattr(
            hot, name, lambda *a, _real=real, **k: answered.append(1) or _real(*a, **k)
        )
    statuses = set()
    for login, path, hot_expected in REQUESTS:
        org.app.state.hot_reads = False
        expected = _answer(org, login, path)
        org.app.state.hot_reads = True
        before = len(answered)
        got = _answer(org, login, path)
        assert got == expected, path
        assert (len(answered) > before) == hot_expected, path
        statuses.add(expected[0])
    assert {200, 404, 422} <= statuses  # answers, refusals and the routes' own validation


@BOTH
def test_the_hot_path_still_needs_a_valid_token(org):
    client = org.client("alice")
    client.headers["Authorization"] = "Bearer not-a-token"
    for path in ("/api/v1/tasks", "/api/v1/customers/c001/record"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", {}),
        (b"limit=50", {"limit": 50}),
        (b"offset=0&limit=500", {"offset": 0, "limit": 500}),
        (b"offset=2147483647", {"offset": 2**31 - 1}),
        (b"offset=2147483648", None),
        (b"limit=0", None),
        (b"limit=501", None),
        (b"limit=07", None),
        (b"limit=+7", None),
        (b"limit=7&limit=7", None),
        (b"limit", None),
        (b"limit=7&", None),
        (b"limit=%37", None),
        (b"status=open", None),
    ],
)
def test_only_plain_task_queries_are_taken(query, expected):
    assert task_query(query) == expected
