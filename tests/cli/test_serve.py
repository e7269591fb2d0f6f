"""``clm serve``: loopback by default, first start creates admin and says how to sign in, once."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

from clm.cli.serve import base_url

SERVE = "from clm.cli.serve import serve; serve(host=None, port={port})"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(home, port: int) -> tuple[subprocess.Popen, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLM_")}
    env.update(CLM_HOME=str(home), CLM_LOCALE="en", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE.format(port=port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    for line in proc.stdout:  # until the server says where it listens
        lines.append(line.rstrip("\n"))
        if "clm is serving" in line:
            break
    else:
        proc.wait()
        pytest.fail("clm serve exited:\n" + "\n".join(lines))
    return proc, lines


def _wait_ready(url: str, proc: subprocess.Popen) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            pytest.fail("clm serve exited before listening")
        try:
            httpx.get(url + "/openapi.json", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail("clm serve did not start listening")


def test_first_start_creates_admin_and_prints_the_sign_in_once(tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc, lines = _start(tmp_path, port)
    try:
        _wait_ready(url, proc)
        text = "\n".join(lines)
        assert "login:    admin" in text and f"Sign in at {url}/" in text
        password = re.search(r"password: (\S+)", text).group(1)
        assert httpx.get(url + "/api/v1/me").status_code == 401
        token = httpx.post(
            url + "/api/v1/auth/token", json={"login": "admin", "password": password}
        )
        assert token.status_code == 200
        assert (tmp_path / "clm.sqlite").exists()
    finally:
        proc.terminate()
        proc.wait()
    proc, lines = _start(tmp_path, port)
    try:
        assert not any("password" in line for line in lines)
        assert lines[-1].startswith(f"clm is serving {url}")
    finally:
        proc.terminate()
        proc.wait()


def test_urls_bracket_ipv6_hosts():
    assert base_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert base_url("::1", 8080) == "http://[::1]:8080"


def test_several_workers_serve_one_store_and_honour_each_others_tokens(tmp_path):
    """Each new connection lands on either worker: API tokens and web sessions issued by one
    must be accepted by the other (a development secret key is shared, not made per worker)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLM_")}
    env.update(CLM_HOME=str(tmp_path), CLM_LOCALE="en", CLM_ADMIN_PASSWORD="correct horse 42")
    code = f"from clm.cli.serve import serve; serve(host=None, port={port}, workers=2)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    fresh = httpx.Limits(max_keepalive_connections=0)  # a new connection per request
    try:
        _wait_ready(url, proc)
        with httpx.Client(base_url=url, limits=fresh) as client:
            signed = client.post(
                "/api/v1/auth/token", json={"login": "admin", "password": "correct horse 42"}
            )
            assert signed.status_code == 200, signed.text
            headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
            assert {client.get("/api/v1/me", headers=headers).status_code for _ in range(20)} == {
                200
            }
            form = client.get("/login").text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
            login = client.post(
                "/login",
                data={"login": "admin", "password": "correct horse 42", "csrf_token": csrf},
            )
            assert login.status_code == 303, login.text
            pages = {client.get("/customers").status_code for _ in range(20)}
            assert pages == {200}
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
