"""Strategy review alerts: tasks about no single customer, and the reviews raised.

A strategy flagged by ``clm.services.effectiveness`` opens a ``review`` task for each manager;
such a task concerns a stage's strategy, not a customer, so ``tasks.customer_id`` becomes
nullable. ``strategy_reviews`` keeps one row per finding, keyed so that a re-run raises nothing
twice.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _set_customer_nullable(nullable: bool) -> None:
    """Change ``tasks.customer_id``; SQLite needs the table rebuilt (copy, drop, rename).

    With foreign keys on, SQLite's ``DROP TABLE tasks`` first deletes every task, which fails
    while follow-ups reference them (and ``PRAGMA foreign_keys`` cannot change inside the
    migration's transaction). So the follow-ups are set aside, the table rebuilt, and the
    follow-ups put back unchanged.
    """
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("CREATE TEMPORARY TABLE _clm_follow_ups AS SELECT * FROM follow_ups")
        op.execute("DELETE FROM follow_ups")
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("customer_id", existing_type=sa.String(length=100), nullable=nullable)
    if sqlite:
        op.execute("INSERT INTO follow_ups SELECT * FROM _clm_follow_ups")
        op.execute("DROP TABLE _clm_follow_ups")


def upgrade() -> None:
    _set_customer_nullable(True)
    op.create_table(
        "strategy_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("playbook_version_id", sa.Integer(), nullable=True),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["playbook_version_id"],
            ["playbook_versions.id"],
            name=op.f("fk_strategy_reviews_playbook_version_id_playbook_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strategy_reviews")),
        sa.UniqueConstraint("key", name=op.f("uq_strategy_reviews_key")),
    )


def downgrade() -> None:
    op.drop_table("strategy_reviews")
    op.execute("DELETE FROM tasks WHERE customer_id IS NULL")
    _set_customer_nullable(False)
