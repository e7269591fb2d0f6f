"""The operational store (SQLAlchemy 2 + Alembic): customers, stages, tasks, follow-ups, users."""
