"""Reminders reach a real SMTP server and a real HTTP receiver, once per user and day."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from clm.errors import ConfigError
from clm.services.reminders import SmtpSettings, WebhookSettings, send_reminders, sign
from clm.services.users import create_user

NOW = dt.datetime(2024, 3, 10, 7, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2024, 3, 10)
SECRET = "s3cret-for-tests"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, SmtpSettings(host="127.0.0.1", port=controller.port, sender="clm@test")
    controller.stop()


@pytest.fixture
def receiver():
    """An HTTP receiver failing the first ``fail_first`` requests with 500."""
    state = {"fail_first": 0, "requests": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state["requests"].append((self.headers, body))  # case-insensitive
            ok = len(state["requests"]) > state["fail_first"]
            self.send_response(200 if ok else 500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def due_work(store, sync, make_frames):
    """mei (success) owns a new customer: onboarding call due 3/2, weekly call due 3/9."""
    from clm.services.actors import Actor

    with store.session() as s:
        create_user(s, actor=Actor.system(), login="mei", name="Mei", role="success",
                    email="mei@example.com", now=NOW)
    sync(*make_frames(1, stages=["new"], owners=["mei"]))


def test_each_user_gets_their_due_and_overdue_tasks_by_email_once(store, due_work, smtp_server):
    inbox, smtp = smtp_server
    with store.session() as s:
        first = send_reminders(s, as_of=AS_OF, smtp=smtp, now=NOW, locale="zh-CN")
        second = send_reminders(s, as_of=AS_OF, smtp=smtp, now=NOW, locale="zh-CN")
    assert first.sent["email"] == 1 and second.sent["email"] == 0
    assert second.skipped_already_sent == 1
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message.rcpt_tos == ["mei@example.com"]
    text = message.content.decode("utf-8", "replace")
    assert "2024-03-02" in text and "2024-03-09" in text and "2024-03-16" not in text


def test_webhooks_are_signed_and_retried(store, due_work, receiver):
    state, url = receiver
    state["fail_first"] = 2
    waits: list[float] = []
    hook = WebhookSettings(url=url, secret=SECRET, attempts=3, backoff_seconds=0.5)
    with store.session() as s:
        report = send_reminders(s, as_of=AS_OF, webhook=hook, now=NOW, sleep=waits.append)
    assert report.sent["webhook"] == 1 and waits == [0.5, 1.0]
    headers, body = state["requests"][-1]
    assert headers["X-CLM-Signature"] == sign(SECRET, headers["X-CLM-Timestamp"], body)
    payload = json.loads(body)
    assert [t["due_on"] for t in payload["tasks"]] == ["2024-03-02", "2024-03-09"]
    assert payload["tasks"][0]["overdue"] is True


def test_a_failed_delivery_is_released_and_the_next_run_sends_it(store, due_work, receiver):
    state, url = receiver
    state["fail_first"] = 2
    hook = WebhookSettings(url=url, secret=SECRET, attempts=2, backoff_seconds=0)
    with store.session() as s:
        failed = send_reminders(s, as_of=AS_OF, webhook=hook, now=NOW, sleep=lambda _: None)
        retried = send_reminders(s, as_of=AS_OF, webhook=hook, now=NOW, sleep=lambda _: None)
    assert failed.sent["webhook"] == 0 and len(failed.failed) == 1
    assert retried.sent["webhook"] == 1 and len(state["requests"]) == 3


def test_reminders_need_a_channel(store):
    with store.session() as s, pytest.raises(ConfigError, match="SMTP server, a webhook"):
        send_reminders(s, as_of=AS_OF)
