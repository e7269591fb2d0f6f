"""The task list's index: a user's open tasks in the list's order (due date, then id).

``GET /api/v1/tasks`` asks for one assignee's tasks of one status ``ORDER BY due_on, id``. The
index of 0001 stopped at ``due_on``, so the database read every open task of the user's
earliest due dates and sorted them by id before it could hand out the first page: about 2.5 s
at p95 with 1M customers (bench/bench_api.py). With ``id`` as the index's last column the page
is the first rows of one index range, read in order. The new index serves every query the old
one did (the old one is its prefix), so it replaces it rather than joining it: one index less
to update on every task written.

Building it locks writes to ``tasks`` for the few seconds it takes (about 2.5M tasks per 1M
customers); reads go on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 03:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD = ("ix_tasks_assignee_status_due", ["assignee_id", "status", "due_on"])
NEW = ("ix_tasks_assignee_status_due_id", ["assignee_id", "status", "due_on", "id"])


def upgrade() -> None:
    op.create_index(NEW[0], "tasks", NEW[1], unique=False)
    op.drop_index(OLD[0], table_name="tasks")


def downgrade() -> None:
    op.create_index(OLD[0], "tasks", OLD[1], unique=False)
    op.drop_index(NEW[0], table_name="tasks")
