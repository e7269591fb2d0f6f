"""The composition root: one app per settings, first start, unsafe settings refused."""

from __future__ import annotations

import pytest
from api_helpers import TestClient

from clm.app import create_app, ensure_first_admin
from clm.config import get_settings
from clm.errors import ConfigError


def test_first_start_creates_admin_once_with_a_generated_password(tmp_path):
    app = create_app(get_settings(home=tmp_path, environment="test"))
    first = ensure_first_admin(app)
    assert first is not None and first.login == "admin" and len(first.password) >= 10
    assert ensure_first_admin(app) is None
    token = TestClient(app).post(
        "/api/v1/auth/token", json={"login": "admin", "password": first.password}
    )
    assert token.status_code == 200 and token.json()["user"]["role"] == "admin"
    app.state.store.dispose()


def test_first_start_uses_the_configured_password_without_echoing_it(tmp_path):
    app = create_app(
        get_settings(home=tmp_path, environment="test", admin_password="a configured secret")
    )
    assert ensure_first_admin(app).password is None
    token = TestClient(app).post(
        "/api/v1/auth/token", json={"login": "admin", "password": "a configured secret"}
    )
    assert token.status_code == 200
    app.state.store.dispose()


def test_two_apps_on_two_homes_do_not_share_anything(tmp_path):
    one = create_app(get_settings(home=tmp_path / "one", environment="test"))
    two = create_app(get_settings(home=tmp_path / "two", environment="test"))
    assert ensure_first_admin(one) is not None and ensure_first_admin(two) is not None
    assert one.state.store.engine.url != two.state.store.engine.url
    one.state.store.dispose()
    two.state.store.dispose()


def test_production_without_a_secret_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="CLM_SECRET_KEY"):
        create_app(get_settings(home=tmp_path, environment="production"))


def test_importing_the_app_module_builds_nothing(tmp_path):
    import subprocess
    import sys

    code = (
        "import clm.app, clm.api.router, clm.api.deps, clm.cli.serve, pathlib;"
        "assert not pathlib.Path('.clm').exists()"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
    assert list(tmp_path.iterdir()) == []
