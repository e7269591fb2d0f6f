"""Helpers of the API tests: the seeded organisation's handle, row counts, backend marks."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

AS_OF = dt.date(2024, 3, 1)
NOW = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery"
BOTH = pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


class Org:
    """The seeded organisation: users by login, their tokens, and clients per user."""

    def __init__(self, app, users: dict[str, int], tokens: dict[str, str]) -> None:
        self.app, self.users, self.tokens = app, users, tokens

    def client(self, login: str) -> TestClient:
        client = TestClient(self.app)
        client.headers["Authorization"] = f"Bearer {self.tokens[login]}"
        return client

    def session(self):
        return self.app.state.store.session()


def counts(org: Org) -> dict[str, int]:
    """Rows per store table (how a test sees that nothing was written)."""
    from sqlalchemy import func, select

    from clm.store.tables import Base

    with org.session() as s:
        return {
            name: s.scalar(select(func.count()).select_from(table))
            for name, table in Base.metadata.tables.items()
        }
