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
