"""The warehouse connection: DuckDB's memory limit, and which tables keep an order."""

from __future__ import annotations

import pytest

from clm.errors import ConfigError
from clm.warehouse import Warehouse


def _setting(warehouse: Warehouse, name: str) -> str:
    return warehouse.con.con.execute(f"SELECT current_setting('{name}')").fetchone()[0]


def test_duckdb_warehouse_gets_the_memory_limit(tmp_path):
    wh = Warehouse.connect(f"duckdb://{tmp_path / 'wh.duckdb'}", memory_limit="300MB")

    assert _setting(wh, "memory_limit") == "286.1 MiB"  # DuckDB shows 300 MB in MiB
    assert wh.memory_limit == "300MB"


def test_duckdb_warehouse_is_limited_by_default(tmp_path):
    wh = Warehouse.connect(f"duckdb://{tmp_path / 'wh.duckdb'}")

    assert _setting(wh, "memory_limit") == "1.8 GiB"  # the 2GB default, not 80% of RAM


def test_an_unreadable_memory_limit_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="memory limit 'lots'"):
        Warehouse.connect(f"duckdb://{tmp_path / 'wh.duckdb'}", memory_limit="lots")


def test_only_fact_tables_on_duckdb_have_a_cluster_key(warehouse):
    assert warehouse.cluster_key("orders") == ('"customer_id"', '"ordered_at"')
    assert warehouse.cluster_key("events")[0] == "date_trunc('month', \"occurred_at\")"
    assert warehouse.cluster_key("customers") == ()


@pytest.mark.postgres
def test_postgresql_keeps_no_cluster_key(pg_warehouse):
    assert pg_warehouse.cluster_key("orders") == ()
