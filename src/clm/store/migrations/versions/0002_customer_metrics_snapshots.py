"""Customer metrics and analytics snapshots written by each engine run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_metrics",
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("order_count", sa.Integer(), nullable=False),
        sa.Column("total_spend", sa.Float(), nullable=False),
        sa.Column("avg_order_value", sa.Float(), nullable=True),
        sa.Column("first_order_date", sa.Date(), nullable=True),
        sa.Column("last_order_date", sa.Date(), nullable=True),
        sa.Column("days_since_last_order", sa.Integer(), nullable=True),
        sa.Column("active_days_30d", sa.Integer(), nullable=False),
        sa.Column("feature_usage", sa.Text(), nullable=True),
        sa.Column("features", sa.Text(), nullable=True),
        sa.Column("r_score", sa.Integer(), nullable=True),
        sa.Column("f_score", sa.Integer(), nullable=True),
        sa.Column("m_score", sa.Integer(), nullable=True),
        sa.Column("rfm_segment", sa.String(length=32), nullable=True),
        sa.Column("value_tier", sa.String(length=8), nullable=True),
        sa.Column("clv", sa.Float(), nullable=True),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("expected_purchases", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_metrics_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_metrics")),
    )
    with op.batch_alter_table("customer_metrics") as batch:
        batch.create_index(batch.f("ix_customer_metrics_rfm_segment"), ["rfm_segment"])
        batch.create_index(batch.f("ix_customer_metrics_value_tier"), ["value_tier"])
    op.create_table(
        "analytics_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_snapshots")),
        sa.UniqueConstraint("kind", "as_of", name="uq_snapshot_kind_as_of"),
    )


def downgrade() -> None:
    op.drop_table("analytics_snapshots")
    with op.batch_alter_table("customer_metrics") as batch:
        batch.drop_index(batch.f("ix_customer_metrics_value_tier"))
        batch.drop_index(batch.f("ix_customer_metrics_rfm_segment"))
    op.drop_table("customer_metrics")
