"""The operational store's tables, as SQLAlchemy 2 typed ORM classes.

These tables hold what people *do* with the stages (tasks, follow-ups, consents, audit), plus a
copy of each customer's basic record and current stage so the operational side can be queried
without the analytics warehouse. The analytics tables live elsewhere (``clm.warehouse``); the
two never share a schema (stack.md: an ``orders`` table collided with a migration).

Schema changes go through Alembic (``clm/store/migrations``); ``docs/operations.md`` describes
every table. Free-text and JSON columns are ``Text`` so that SQLite and PostgreSQL behave alike.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TASK_STATUSES = ("open", "done", "superseded", "cancelled")
TASK_ORIGINS = ("playbook", "follow_up", "manual")
FOLLOW_UP_CHANNELS = ("phone", "email", "visit", "wechat", "meeting")
CONSENT_STATUSES = ("granted", "withdrawn")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _ts() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(32), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _ts()


class ApiToken(Base):
    """An API token; only the SHA-256 of the (high-entropy) token is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _ts()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Customer(Base):
    """The basic record of a customer, synced from the data contract's ``customers`` table."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(300))
    industry: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    owner: Mapped[str | None] = mapped_column(String(200))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    acquisition_channel: Mapped[str | None] = mapped_column(String(200))
    signup_date: Mapped[date | None] = mapped_column(Date)
    erased: Mapped[bool] = mapped_column(Boolean, default=False)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CustomerStage(Base):
    """The current stage of each customer, as the last synced engine run decided it."""

    __tablename__ = "customer_stage"

    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[str] = mapped_column(String(64), index=True)
    stage_since: Mapped[date | None] = mapped_column(Date)
    previous_stage: Mapped[str | None] = mapped_column(String(64))
    grey_zone: Mapped[bool] = mapped_column(Boolean, default=False)
    reasons: Mapped[str | None] = mapped_column(Text)  # JSON list
    model_version: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[str] = mapped_column(String(100))
    synced_on: Mapped[date] = mapped_column(Date)


class StageTransition(Base):
    __tablename__ = "stage_transitions"
    __table_args__ = (
        UniqueConstraint("customer_id", "changed_on", "model_version", name="uq_stage_transition"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(64))
    to_stage: Mapped[str] = mapped_column(String(64))
    changed_on: Mapped[date] = mapped_column(Date)
    reasons: Mapped[str | None] = mapped_column(Text)  # JSON list
    model_version: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[str] = mapped_column(String(100))


class PlaybookVersion(Base):
    __tablename__ = "playbook_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version_hash: Mapped[str] = mapped_column(String(64), unique=True)
    content: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _ts()
    activated_at: Mapped[datetime] = _ts()


class Task(Base):
    """A unit of work on a customer. ``version`` guards concurrent completion."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_customer_status", "customer_id", "status"),
        # the task list's order: one assignee's tasks of a status by due date, then id (0004)
        Index("ix_tasks_assignee_status_due_id", "assignee_id", "status", "due_on", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL for work about no single customer (a strategy review alert, migration 0002)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    stage: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    title_zh: Mapped[str | None] = mapped_column(String(500))
    due_on: Mapped[date] = mapped_column(Date)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    origin: Mapped[str] = mapped_column(String(16))
    playbook_version_id: Mapped[int | None] = mapped_column(ForeignKey("playbook_versions.id"))
    created_at: Mapped[datetime] = _ts()
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class FollowUp(Base):
    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    occurred_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    next_date: Mapped[date | None] = mapped_column(Date)
    next_purpose: Mapped[str | None] = mapped_column(String(500))
    next_task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _ts()


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    label_en: Mapped[str] = mapped_column(String(200))
    label_zh: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="manual")  # manual | rule
    rule: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts()


class CustomerTag(Base):
    __tablename__ = "customer_tags"

    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    tagged_at: Mapped[datetime] = _ts()


class Segment(Base):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    definition: Mapped[str] = mapped_column(Text)  # JSON filter
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _ts()


class Consent(Base):
    """One consent event; the latest event per customer, purpose and channel is in force."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_lookup", "customer_id", "purpose", "channel", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = _ts()
    source: Mapped[str] = mapped_column(String(200))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ReminderDelivery(Base):
    """One reminder sent to one user on one day over one channel (keeps reminders one-shot)."""

    __tablename__ = "reminder_deliveries"
    __table_args__ = (UniqueConstraint("user_id", "channel", "sent_on", name="uq_reminder_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # email | webhook
    sent_on: Mapped[date] = mapped_column(Date)
    task_count: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = _ts()


class StrategyReview(Base):
    """A stage strategy flagged as underperforming, and when the review alert was raised.

    ``key`` (stage, playbook version, metric, period, window) makes raising alerts idempotent.
    """

    __tablename__ = "strategy_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    stage: Mapped[str] = mapped_column(String(64))
    playbook_version_id: Mapped[int | None] = mapped_column(ForeignKey("playbook_versions.id"))
    metric: Mapped[str] = mapped_column(String(32))
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    window_days: Mapped[int] = mapped_column(Integer)
    entries: Mapped[int] = mapped_column(Integer)
    raised_at: Mapped[datetime] = _ts()


class AuditEntry(Base):
    """Who (a user, or an automated run with its model version) changed or read what, when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_run_id: Mapped[str | None] = mapped_column(String(100))
    model_version: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(100))
    customer_id: Mapped[str | None] = mapped_column(String(100), index=True)
    before: Mapped[str | None] = mapped_column(Text)  # JSON
    after: Mapped[str | None] = mapped_column(Text)  # JSON


class CustomerMetrics(Base):
    """Each customer's core metrics and values as of the last engine run.

    A cache of the warehouse's features, so the tracking record and the web pages read one row
    from the store instead of scanning orders in the warehouse (which a running server must not
    hold open: a DuckDB file admits one writer). Rewritten by every run.
    """

    __tablename__ = "customer_metrics"

    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    as_of: Mapped[date] = mapped_column(Date)
    order_count: Mapped[int] = mapped_column(Integer, default=0)
    total_spend: Mapped[float] = mapped_column(Float, default=0.0)
    avg_order_value: Mapped[float | None] = mapped_column(Float)
    first_order_date: Mapped[date | None] = mapped_column(Date)
    last_order_date: Mapped[date | None] = mapped_column(Date)
    days_since_last_order: Mapped[int | None] = mapped_column(Integer)
    active_days_30d: Mapped[int] = mapped_column(Integer, default=0)
    feature_usage: Mapped[str | None] = mapped_column(Text)  # JSON: feature -> uses in 30 days
    features: Mapped[str | None] = mapped_column(Text)  # JSON: every catalogued feature
    r_score: Mapped[int | None] = mapped_column(Integer)
    f_score: Mapped[int | None] = mapped_column(Integer)
    m_score: Mapped[int | None] = mapped_column(Integer)
    rfm_segment: Mapped[str | None] = mapped_column(String(32), index=True)
    value_tier: Mapped[str | None] = mapped_column(String(8), index=True)
    clv: Mapped[float | None] = mapped_column(Float)
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_purchases: Mapped[float | None] = mapped_column(Float)


class AnalyticsSnapshot(Base):
    """An aggregate computed by an engine run (stage counts, cohort retention, ...), as JSON.

    The dashboard reads these instead of recomputing over the warehouse; one row per kind and
    as-of date, replaced when the same date is run again.
    """

    __tablename__ = "analytics_snapshots"
    __table_args__ = (UniqueConstraint("kind", "as_of", name="uq_snapshot_kind_as_of"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[date] = mapped_column(Date)
    payload: Mapped[str] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = _ts()
