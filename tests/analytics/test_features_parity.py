"""The same feature expressions give the same answers on PostgreSQL as on DuckDB."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import assert_same_features, load_arrow, random_tables

from clm.analytics.features import compute_features, feature_usage, order_dates

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("as_of", [dt.date(2025, 3, 31), dt.date(2024, 12, 1)])
def test_postgres_features_equal_duckdb_features(warehouse, pg_warehouse, as_of):
    data = random_tables(150, seed=21, orders_per_customer=8, events_per_customer=8)
    duck_tables, pg_tables = load_arrow(warehouse, data), load_arrow(pg_warehouse, data)
    duck = compute_features(duck_tables, as_of=as_of).to_pyarrow()
    pg = compute_features(pg_tables, as_of=as_of).to_pyarrow()
    assert pg.schema.equals(duck.schema)
    assert_same_features(pg, duck)

    def rows(expr, *keys):
        return sorted(expr.to_pyarrow().to_pylist(), key=lambda r: tuple(r[k] for k in keys))

    assert rows(order_dates(pg_tables, as_of=as_of), "customer_id") == rows(
        order_dates(duck_tables, as_of=as_of), "customer_id")
    assert rows(feature_usage(pg_tables, as_of=as_of), "customer_id", "feature") == rows(
        feature_usage(duck_tables, as_of=as_of), "customer_id", "feature")
