"""Reminders that fire: each user's tasks due today and overdue, by e-mail and/or webhook.

Meant for a one-shot command run by cron or a systemd timer (``clm reminders``), which stays
correct with any number of API workers (stack.md: an in-process scheduler duplicates work). A
reminder is *claimed* before it is sent: one ``reminder_deliveries`` row per user, channel and
day, under a unique constraint, committed first. So a second run the same day, or two runs at
once, send nothing twice; a send that fails releases its claim and the next run tries again.
(A crash between claim and send loses that day's reminder rather than sending it twice.)

Webhooks are signed like GitHub's and Stripe's: ``X-CLM-Signature: sha256=<HMAC-SHA256 of
"<timestamp>.<body>" with the shared secret>`` plus ``X-CLM-Timestamp``, so a receiver can check
origin and freshness. Failed deliveries are retried with exponential back-off.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clm.errors import ConfigError
from clm.services.actors import Actor
from clm.services.audit import record, transaction
from clm.store.bulk import utcnow
from clm.store.tables import ReminderDelivery, Task, User

TEXT = {
    "en": {
        "subject": "clm: {count} task(s) due today or overdue",
        "intro": "Hello {name}, these tasks are due today or overdue:",
        "line": "- {due} {title} (customer {customer})",
        "overdue": " [overdue]",
    },
    "zh-CN": {
        "subject": "clm：{count} 项任务今天到期或已逾期",
        "intro": "{name}，您好。以下任务今天到期或已逾期：",
        "line": "- {due} {title}（客户 {customer}）",
        "overdue": " [已逾期]",
    },
}


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "clm@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    secret: str
    attempts: int = 3
    backoff_seconds: float = 1.0
    timeout: float = 10.0


@dataclass
class ReminderReport:
    as_of: date
    sent: dict[str, int] = field(default_factory=lambda: {"email": 0, "webhook": 0})
    skipped_already_sent: int = 0
    failed: list[str] = field(default_factory=list)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-CLM-Signature`` value of a webhook body."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _text(user: User, tasks: list[Task], as_of: date, locale: str) -> tuple[str, str]:
    words = TEXT["zh-CN" if locale.lower().startswith("zh") else "en"]
    lines = [words["intro"].format(name=user.name)]
    for task in tasks:
        title = task.title_zh if locale.lower().startswith("zh") and task.title_zh else task.title
        line = words["line"].format(
            due=task.due_on.isoformat(), title=title, customer=task.customer_id
        )
        lines.append(line + (words["overdue"] if task.due_on < as_of else ""))
    return words["subject"].format(count=len(tasks)), "\n".join(lines) + "\n"


def _payload(user: User, tasks: list[Task], as_of: date) -> bytes:
    return json.dumps(
        {
            "as_of": as_of.isoformat(),
            "user": {"id": user.id, "login": user.login},
            "tasks": [
                {
                    "id": t.id,
                    "customer_id": t.customer_id,
                    "title": t.title,
                    "title_zh": t.title_zh,
                    "due_on": t.due_on.isoformat(),
                    "overdue": t.due_on < as_of,
                }
                for t in tasks
            ],
        },
        ensure_ascii=False,
    ).encode("utf-8")


def _send_email(smtp: SmtpSettings, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = smtp.sender, to, subject
    message.set_content(body)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(message)


def _post_webhook(
    hook: WebhookSettings, body: bytes, now: datetime, sleep: Callable[[float], None]
) -> None:
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        "X-CLM-Timestamp": timestamp,
        "X-CLM-Signature": sign(hook.secret, timestamp, body),
    }
    last: Exception | None = None
    for attempt in range(hook.attempts):
        request = urllib.request.Request(hook.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=hook.timeout) as response:
                if 200 <= response.status < 300:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        if attempt + 1 < hook.attempts:
            sleep(hook.backoff_seconds * 2**attempt)
    raise ConnectionError(f"webhook {hook.url} failed after {hook.attempts} attempts: {last}")


def _claim(
    session: Session, *, user_id: int, channel: str, as_of: date, count: int, now: datetime
) -> int | None:
    """Record the delivery before sending; ``None`` when another run already has it."""
    try:
        with transaction(session):
            row = ReminderDelivery(
                user_id=user_id, channel=channel, sent_on=as_of, task_count=count, sent_at=now
            )
            session.add(row)
            session.flush()
            record(
                session,
                actor=Actor.automated("reminders"),
                action="remind",
                entity="user",
                entity_id=user_id,
                after={"channel": channel, "sent_on": as_of, "tasks": count},
                at=now,
            )
        return row.id
    except IntegrityError:
        return None


def _release(session: Session, claim_id: int, *, user_id: int, error: str, now: datetime) -> None:
    """Undo a claim whose send failed, so the next run tries again; audited as such."""
    with transaction(session):
        session.execute(delete(ReminderDelivery).where(ReminderDelivery.id == claim_id))
        record(
            session,
            actor=Actor.automated("reminders"),
            action="remind_failed",
            entity="user",
            entity_id=user_id,
            after={"error": error},
            at=now,
        )


def send_reminders(
    session: Session,
    *,
    as_of: date,
    smtp: SmtpSettings | None = None,
    webhook: WebhookSettings | None = None,
    locale: str = "en",
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ReminderReport:
    """Send each user their tasks due on ``as_of`` or overdue, once per channel and day."""
    if smtp is None and webhook is None:
        raise ConfigError("reminders need an SMTP server, a webhook, or both", field="reminders")
    now = now or utcnow()
    report = ReminderReport(as_of=as_of)
    with transaction(session):
        due = list(
            session.scalars(
                select(Task)
                .where(Task.status == "open", Task.due_on <= as_of, Task.assignee_id.is_not(None))
                .order_by(Task.assignee_id, Task.due_on, Task.id)
            )
        )
        users = {u.id: u for u in session.scalars(select(User).where(User.active.is_(True)))}
    by_user: dict[int, list[Task]] = {}
    for task in due:
        if task.assignee_id in users:
            by_user.setdefault(task.assignee_id, []).append(task)
    for user_id, tasks in sorted(by_user.items()):
        user = users[user_id]
        channels = []
        if smtp is not None and user.email:
            channels.append("email")
        if webhook is not None:
            channels.append("webhook")
        for channel in channels:
            claim = _claim(
                session, user_id=user_id, channel=channel, as_of=as_of, count=len(tasks), now=now
            )
            if claim is None:
                report.skipped_already_sent += 1
                continue
            try:
                if channel == "email":
                    subject, body = _text(user, tasks, as_of, locale)
                    _send_email(smtp, user.email, subject, body)  # type: ignore[arg-type]
                else:
                    _post_webhook(webhook, _payload(user, tasks, as_of), now, sleep)  # type: ignore[arg-type]
            except (OSError, smtplib.SMTPException, ConnectionError) as exc:
                _release(session, claim, user_id=user_id, error=str(exc), now=now)
                report.failed.append(f"{user.login} via {channel}: {exc}")
                continue
            report.sent[channel] += 1
    return report
