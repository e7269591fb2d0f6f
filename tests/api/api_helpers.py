"""Helpers of the API tests: the seeded organisation's handle, row counts, backend marks."""

from __future__ import annotations

import datetime as dt
import json
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


def add_metrics(org, customer_id: str) -> None:
    """One stored engine-run snapshot (metrics, values, feature usage) for ``customer_id``."""
    from clm.store.tables import CustomerMetrics

    with org.session() as s:
        s.add(
            CustomerMetrics(
                customer_id=customer_id,
                as_of=dt.date(2024, 3, 1),
                order_count=3,
                total_spend=300.0,
                avg_order_value=100.0,
                first_order_date=dt.date(2024, 2, 20),
                last_order_date=dt.date(2024, 2, 28),
                days_since_last_order=2,
                active_days_30d=11,
                feature_usage=json.dumps({"reports": 7, "export": 2}),
                features=json.dumps(
                    {"referrals_90d": 2, "satisfaction_latest": 9.5, "complaints_90d": 0}
                ),
                r_score=5,
                f_score=3,
                m_score=4,
                rfm_segment="loyal",
                value_tier="A",
                clv=1234.5,
                p_alive=0.93,
                expected_purchases=2.1,
            )
        )
        s.commit()
