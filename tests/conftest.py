"""Shared fixtures: isolated warehouses per test, and real backends where a test asks for them."""

from __future__ import annotations

import os
import socket

import pytest

from clm.warehouse import Warehouse

PG_URL = os.environ.get("CLM_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")


def _postgres_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def warehouse() -> Warehouse:
    """A fresh in-memory DuckDB warehouse for one test."""
    return Warehouse.in_memory()


@pytest.fixture
def duckdb_file_warehouse(tmp_path) -> Warehouse:
    return Warehouse.connect(f"duckdb://{tmp_path / 'wh.duckdb'}")


@pytest.fixture(scope="session")
def postgres_available() -> None:
    if not _postgres_up():
        pytest.skip("PostgreSQL is not running at 127.0.0.1:5432 (CI starts it)")


@pytest.fixture
def pg_warehouse(postgres_available, request):
    """A PostgreSQL warehouse in a schema of its own, dropped after the test."""
    import uuid

    wh = Warehouse.connect(PG_URL, schema=f"t_{uuid.uuid4().hex[:10]}")
    yield wh
    wh.drop_schema()


@pytest.fixture(scope="session")
def spark_backend():
    """One local Spark session for the whole run, bound to 127.0.0.1 with its UI off."""
    import shutil

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Java is not installed (CI provides Java 17 for the Spark tests)")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    import ibis
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("clm-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    yield ibis.pyspark.connect(session=spark)
    spark.stop()
