"""``clm reminders``, ``clm tags``, ``clm segments`` and ``clm effectiveness`` on a workspace.

Reminders go to a real SMTP server (aiosmtpd on 127.0.0.1) and a real HTTP receiver; the
store is the SQLite file in ``CLM_HOME``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
import typer
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from typer.testing import CliRunner

from clm.cli import operations
from clm.config import get_settings
from clm.errors import ConfigError
from clm.services.actors import Actor
from clm.services.reminders import sign
from clm.store.engine import Store
from clm.store.tables import ReminderDelivery, Task

SYSTEM = Actor.system()
NOW = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)
SECRET = "hook-secret-for-tests"


@pytest.fixture(scope="module")
def app():
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """clm"""

    operations.register(root)
    return root


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in ("STORE_URL", "WAREHOUSE_URL", "SMTP_HOST", "WEBHOOK_URL", "WEBHOOK_SECRET",
                 "LOCALE"):
        monkeypatch.delenv(f"CLM_{name}", raising=False)
    monkeypatch.setenv("CLM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")  # Rich tables wide enough to read whole words
    return tmp_path / "home"


@pytest.fixture
def store(home):
    opened = Store.open(get_settings().resolved_store_url())
    yield opened
    opened.dispose()


def _frames(paths: dict[str, list[tuple[dt.date, str]]], owners: dict[str, str] | None = None):
    ids = sorted(paths)
    owners = owners or {}
    customers = pd.DataFrame({
        "customer_id": ids, "name": [f"客户{c}" for c in ids],
        "phone": [f"138{i:08d}" for i in range(len(ids))],
        "email": [f"{c}@example.com" for c in ids], "owner": [owners.get(c) for c in ids],
    })
    current = pd.DataFrame({
        "customer_id": ids, "stage": [paths[c][-1][1] for c in ids],
        "stage_since": [paths[c][-1][0] for c in ids], "previous_stage": None,
        "grey_zone": False, "reasons": [["r"] for _ in ids],
    })
    transitions = pd.DataFrame(
        [(c, paths[c][i - 1][1] if i else None, s, d, ["r"])
         for c in ids for i, (d, s) in enumerate(paths[c])],
        columns=["customer_id", "from_stage", "to_stage", "changed_on", "reasons"],
    )
    return customers, current, transitions


def _sync(store, paths, *, as_of, owners=None, tasks=True):
    from clm.services.sync import sync_stages

    with store.session() as s:
        sync_stages(s, *(), **dict(zip(("customers", "current", "transitions"),
                                       _frames(paths, owners), strict=True)),
                    model_version="default@1", run_id="run-1", as_of=as_of, now=NOW,
                    open_entry_tasks=tasks)


def _user(store, login, role, email=None):
    from clm.services.users import create_user

    with store.session() as s:
        return create_user(s, actor=SYSTEM, login=login, name=login.title(), role=role,
                           email=email, now=NOW)


@pytest.fixture
def due_work(store):
    """mei (success) owns a new customer: onboarding call due 3/2, weekly call due 3/9."""
    _user(store, "mei", "success", email="mei@example.com")
    _sync(store, {"c001": [(dt.date(2024, 3, 1), "new")]}, as_of=dt.date(2024, 3, 1),
          owners={"c001": "mei"})


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
def smtp_server(monkeypatch):
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    monkeypatch.setenv("CLM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CLM_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("CLM_SMTP_FROM", "clm@test")
    yield inbox
    controller.stop()


@pytest.fixture
def receiver(monkeypatch):
    requests: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            requests.append((self.headers, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CLM_WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/hook")
    monkeypatch.setenv("CLM_WEBHOOK_SECRET", SECRET)
    yield requests
    server.shutdown()
    server.server_close()


def _run(app, *args):
    return CliRunner().invoke(app, list(args))


def test_reminders_send_each_user_one_email_however_often_they_run(
    app, store, due_work, smtp_server
):
    first = _run(app, "reminders", "--as-of", "2024-03-10")
    second = _run(app, "reminders", "--as-of", "2024-03-10")
    assert first.exit_code == 0, first.output
    assert "1 e-mail(s)" in first.output and "1 already sent" in second.output
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message.rcpt_tos == ["mei@example.com"] and message.mail_from == "clm@test"
    text = message.content.decode("utf-8", "replace")
    assert "2024-03-02" in text and "2024-03-09" in text and "2024-03-16" not in text


def test_reminders_post_a_signed_webhook_too(app, store, due_work, smtp_server, receiver):
    result = _run(app, "reminders", "--as-of", "2024-03-10")
    assert result.exit_code == 0, result.output
    assert "1 e-mail(s), 1 webhook(s)" in result.output
    (headers, body), = receiver
    assert headers["X-CLM-Signature"] == sign(SECRET, headers["X-CLM-Timestamp"], body)
    assert json.loads(body)["user"]["login"] == "mei"


def test_a_dry_run_shows_the_plan_and_sends_nothing(app, store, due_work, smtp_server):
    result = _run(app, "reminders", "--as-of", "2024-03-10", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "mei" in result.output and "1 user(s)" in result.output
    assert smtp_server.messages == []
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(ReminderDelivery)) == 0


def test_reminders_without_a_channel_or_with_an_unsigned_webhook_are_config_errors(
    app, store, monkeypatch
):
    result = _run(app, "reminders")
    assert isinstance(result.exception, ConfigError) and "CLM_SMTP_HOST" in str(result.exception)
    monkeypatch.setenv("CLM_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    result = _run(app, "reminders")
    assert isinstance(result.exception, ConfigError)
    assert "CLM_WEBHOOK_SECRET" in str(result.exception)


def test_tags_examples_apply_and_list(app, store):
    from clm.analytics.feature_catalog import FEATURES
    from clm.services.snapshots import replace_metrics

    _sync(store, {"c001": [(dt.date(2024, 1, 1), "growing")],
                  "c002": [(dt.date(2024, 1, 1), "growing")]}, as_of=dt.date(2024, 3, 1))
    base = {f.name: (True if f.dtype == "bool" else 5) for f in FEATURES}
    features = [{**base, "order_count": 4, "aov_change_vs_first": -0.3},
                {**base, "order_count": 4, "aov_change_vs_first": 0.1}]
    with store.session() as s:
        replace_metrics(s, pd.DataFrame({
            "customer_id": ["c001", "c002"], "as_of": dt.date(2024, 3, 1), "order_count": 4,
            "total_spend": 0.0, "active_days_30d": 0,
            "features": [json.dumps(f) for f in features],
        }))
    assert _run(app, "tags", "examples").exit_code == 0
    applied = _run(app, "tags", "apply")
    assert "price-sensitive: 1 match, 1 added, 0 removed" in applied.output
    assert "0 added" in _run(app, "tags", "apply", "--tag", "price-sensitive").output
    defined = _run(app, "tags", "define", "vip", "--label-en", "VIP", "--label-zh", "贵宾")
    assert defined.exit_code == 0
    added = _run(app, "tags", "add", "vip", "c001", "c002")
    assert "2 of 2" in added.output
    listed = _run(app, "tags", "list")
    assert "price-sensitive" in listed.output and "vip" in listed.output


def test_segments_export_writes_only_consenting_customers(app, store, tmp_path):
    from clm.services.consent import record_consent

    _sync(store, {c: [(dt.date(2024, 1, 1), "declining")] for c in ("c001", "c002", "c003")},
          as_of=dt.date(2024, 3, 1), tasks=False)
    with store.session() as s:
        for c in ("c001", "c003"):
            record_consent(s, actor=SYSTEM, customer_id=c, purpose="marketing", channel="email",
                           status="granted", at=NOW, source="form")
    saved = _run(app, "segments", "save", "winback", "--definition", '{"stages": ["declining"]}')
    assert "3 member(s)" in saved.output, saved.output
    out = tmp_path / "audience.csv"
    result = _run(app, "segments", "export", "--segment", "winback", "--purpose", "marketing",
                  "--out", str(out), "--as-of", "2024-03-02")
    assert result.exit_code == 0, result.output
    assert "Wrote 2 of 3" in result.output
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [r[0] for r in rows[1:]] == ["c001", "c003"] and rows[1][5] == "c***@example.com"
    assert "winback" in _run(app, "segments", "list").output


def test_effectiveness_reports_and_alerts_the_managers_once(app, store):
    _user(store, "boss", "manager")
    paths = {f"d{i:02d}": [(dt.date(2023, 10, 1), "growing"), (dt.date(2024, 1, 10), "declining")]
             for i in range(12)}
    _sync(store, paths, as_of=dt.date(2024, 6, 30), tasks=False)
    args = ("effectiveness", "--start", "2024-01-01", "--end", "2024-01-31", "--format", "json")
    first = _run(app, *args)
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    (row,) = data["rows"]
    assert row["stage"] == "declining" and row["win_back_rate"] == 0.0 and row["flagged"]
    assert data["thresholds"]["min_win_back_rate"] == 0.1
    _run(app, *args)
    table = _run(app, "effectiveness", "--start", "2024-01-01", "--end", "2024-01-31",
                 "--min-win-back-rate", "0")
    assert "declining" in table.output and "0.0%" in table.output
    with store.session() as s:
        reviews = list(s.scalars(select(Task).where(Task.kind == "review")))
    assert len(reviews) == 1 and reviews[0].customer_id is None


def test_effectiveness_csv_has_one_row_per_strategy(app, store):
    _sync(store, {"n1": [(dt.date(2024, 1, 5), "new")]}, as_of=dt.date(2024, 6, 30), tasks=False)
    result = _run(app, "effectiveness", "--start", "2024-01-01", "--end", "2024-01-31",
                  "--format", "csv", "--no-alert")
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("stage,playbook_version_id,entries") and len(lines) == 2


def test_every_label_exists_in_both_languages():
    for key, texts in operations.LABELS.items():
        assert set(texts) == {"en", "zh-CN"} and all(texts.values()), key
