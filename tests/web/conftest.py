"""Web fixtures: one small demo company served by uvicorn on 127.0.0.1, and a real Chromium.

The demo (300 customers, seed 7) is generated once per session into a temporary ``CLM_HOME``;
tests that change data (follow-ups, imports, model saves) use customers and files of their own
so that the order of tests does not matter. The browser is Debian's Chromium driven by
Playwright (no browser download); without ``/usr/bin/chromium`` the browser tests are skipped.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from web_helpers import CHROMIUM, MANAGER, REP, SCREENSHOTS, signed_in_client


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory):
    """Settings of a workspace holding the published demo run (300 customers)."""
    from clm.config import get_settings
    from clm.services.demo import run_demo

    home = tmp_path_factory.mktemp("clm-web-home")
    settings = get_settings(home=home, environment="test", secret_key="web-test-secret")
    run_demo(out=home / "demo", settings=settings, customers=300, seed=7)
    return settings


@pytest.fixture(scope="session")
def app(demo_settings):
    from clm.app import create_app

    return create_app(demo_settings)


@pytest.fixture
def manager_client(app):
    return signed_in_client(app, MANAGER)


@pytest.fixture
def rep_client(app):
    return signed_in_client(app, REP)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(app) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install "
                    "chromium; .ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-quic",
                  "--disable-sync"],
        )
        yield b
        b.close()


@dataclass
class Watched:
    """A page plus every JavaScript error, console error and request URL it produced."""

    page: object
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def external_requests(self) -> list[str]:
        return [u for u in self.requests
                if not u.startswith(("http://127.0.0.1:", "data:", "blob:", "about:"))]


@pytest.fixture
def web(browser, server, request) -> Iterator[Watched]:
    """A fresh browser context and page that records errors and requests; saves a screenshot
    as ``tests/artifacts/screenshots/<test>.png`` when the test ends."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US",
                                  accept_downloads=True)
    page = context.new_page()
    watched = Watched(page=page)
    page.on("pageerror", lambda exc: watched.errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: watched.errors.append(f"console: {msg.text}")
            if msg.type == "error" else None)
    page.on("request", lambda req: watched.requests.append(req.url))
    page.base = server
    yield watched
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()
