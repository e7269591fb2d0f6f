"""Alembic migrations of the operational store, run by ``clm.store.engine.upgrade``."""
