"""The pages over HTTP (no browser): access, CSRF, roles, labels, and each page's server time.

The server times are reported, not asserted (a shared CI machine is no stopwatch): they are
written to ``tests/artifacts/page_times.txt`` and printed with ``-s``.
"""

from __future__ import annotations

import json
import re
import time
from importlib import resources
from pathlib import Path

import pytest
from web_helpers import SCREENSHOTS, csrf_of

from clm.domain.i18n import catalog

PAGES = ("/dashboard", "/customers", "/customers?stage=declining&sort=-stage_since",
         "/tasks", "/models", "/playbook", "/import", "/segments")


def test_anonymous_visitors_are_sent_to_sign_in(app):
    from fastapi.testclient import TestClient

    client = TestClient(app)
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")


def test_wrong_password_answers_401_with_the_form_again(app):
    from fastapi.testclient import TestClient

    client = TestClient(app)
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"login": "david", "password": "nope-nope-nope",
                                           "csrf_token": token})
    assert response.status_code == 401
    assert "wrong login or password" in response.text


def test_a_form_without_the_csrf_token_is_refused(manager_client):
    response = manager_client.post("/logout", data={})
    assert response.status_code == 403
    response = manager_client.post("/logout", data={"csrf_token": "forged"})
    assert response.status_code == 403


def test_sign_in_does_not_follow_an_offsite_next(app):
    from fastapi.testclient import TestClient

    client = TestClient(app)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"login": "david", "password": "clm-demo-2025", "csrf_token": token,
              "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/dashboard"


def test_a_rep_cannot_open_a_customer_someone_else_owns(app, rep_client):
    from sqlalchemy import select

    from clm.store.tables import Customer, User

    with app.state.store.session() as session:
        rep = session.scalar(select(User).where(User.login == "wangfang"))
        other = session.scalar(
            select(Customer.id).where(Customer.owner_user_id != rep.id).limit(1)
        )
        own = session.scalar(select(Customer.id).where(Customer.owner_user_id == rep.id).limit(1))
    assert rep_client.get(f"/customers/{own}").status_code == 200
    response = rep_client.get(f"/customers/{other}")
    assert response.status_code == 404
    assert "does not exist" in response.text


def test_contacts_are_masked_on_the_record(app, manager_client):
    page = manager_client.get("/customers/C00001").text
    phone = re.search(r'<dd id="phone">([^<]*)</dd>', page).group(1)
    assert "****" in phone


def test_every_label_a_template_uses_exists_in_english_and_chinese():
    folder = Path(str(resources.files("clm.web"))) / "templates"
    used = set()
    for template in folder.glob("*.html"):
        used |= set(re.findall(r"""_\(\s*["']([A-Za-z0-9_.]+[A-Za-z0-9_])["']""",
                               template.read_text("utf-8")))
    assert used, "no labels found"
    for locale in ("en", "zh-CN"):
        missing = sorted(k for k in used if k not in catalog(locale))
        assert missing == [], (locale, missing)


def test_language_choice_is_remembered_in_a_cookie(manager_client):
    response = manager_client.get("/lang?to=zh-CN&next=/customers", follow_redirects=False)
    assert response.headers["location"] == "/customers"
    page = manager_client.get("/customers").text
    assert '<html lang="zh-CN">' in page and "我的任务" in page
    manager_client.get("/lang?to=en&next=/customers")
    assert "My tasks" in manager_client.get("/customers").text


def test_customer_list_pages_through_every_customer_once(manager_client):
    seen: list[str] = []
    for page in (1, 2, 3, 4, 5, 6, 7):
        html = manager_client.get(f"/customers?page={page}").text
        seen += re.findall(r'<a href="/customers/(C\d+)">', html)
    assert len(seen) == 300
    assert len(set(seen)) == 300


def test_follow_up_with_half_a_next_plan_is_refused_and_nothing_saved(app, manager_client):
    page = manager_client.get("/customers/C00002").text
    before = page.count("Half a plan")
    response = manager_client.post(
        "/customers/C00002/follow-ups",
        data={"csrf_token": csrf_of(page), "occurred_on": "2026-01-05", "channel": "phone",
              "summary": "Half a plan", "next_date": "2026-01-09", "next_purpose": ""},
    )
    assert response.status_code == 422
    assert "next_purpose" in response.text
    assert ">Half a plan</textarea>" in response.text  # what was typed is kept for fixing
    assert manager_client.get("/customers/C00002").text.count("Half a plan") == before


@pytest.mark.parametrize("user_fixture", ["manager_client"])
def test_page_server_times_are_reported(request, user_fixture):
    client = request.getfixturevalue(user_fixture)
    times = {}
    for path in PAGES:
        client.get(path)  # warm the caches (templates, playbook parse)
        start = time.perf_counter()
        response = client.get(path)
        times[path] = round(1000 * (time.perf_counter() - start), 1)
        assert response.status_code == 200, path
    out = SCREENSHOTS.parent / "page_times.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(times, indent=2) + "\n")
    print("server time per page (ms):", times)
