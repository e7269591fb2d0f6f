"""Helpers the web tests share: the demo team's logins, signing in, the CSRF token."""

from __future__ import annotations

import re
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
DEMO_PASSWORD = "clm-demo-2025"
MANAGER = "david"  # demo team: David Wang, manager
REP = "wangfang"  # demo team: 王芳, sales


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF token"
    return found.group(1)


def signed_in_client(app, login: str):
    """A TestClient signed in as ``login`` through the sign-in form."""
    from fastapi.testclient import TestClient

    client = TestClient(app)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"login": login, "password": DEMO_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]
    return client


def sign_in(watched, login: str) -> None:
    page = watched.page
    page.goto(f"{page.base}/login")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
