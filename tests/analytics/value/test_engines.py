"""The value metrics give the same numbers on Spark as on DuckDB (PostgreSQL: see the
postgres tests in test_cohorts and test_stage_history)."""

import datetime as dt

import pytest
from factories import random_tables
from test_stage_history import HISTORY
from value_helpers import frame_equal, history_table

import clm.analytics.value as v
from clm.warehouse import Warehouse

pytestmark = pytest.mark.spark
D = dt.date(2024, 6, 15)


@pytest.fixture(scope="module")
def spark_warehouse(tmp_path_factory):
    pytest.importorskip("pyspark")
    import os

    import ibis
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = (SparkSession.builder.master("local[2]")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "4")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-wh")))
             .getOrCreate())
    yield Warehouse(ibis.pyspark.connect(session=spark), url="pyspark://local")
    spark.stop()


def test_spark_gives_the_same_value_metrics_as_duckdb(warehouse, spark_warehouse):
    data = random_tables(120, seed=5, orders_per_customer=5, events_per_customer=0,
                         interactions_per_customer=0)
    tables = {}
    for name, wh in (("duckdb", warehouse), ("spark", spark_warehouse)):
        orders = wh.con.create_table("orders", data["orders"], overwrite=True)
        customers = wh.con.create_table("customers", data["customers"], overwrite=True)
        tables[name] = orders, customers, history_table(wh, HISTORY)
    cases = [
        (lambda o, c, h: v.rfm_scores(o, as_of=D), ["customer_id"]),
        (lambda o, c, h: v.value_features(o, c, as_of=D), ["customer_id"]),
        (lambda o, c, h: v.cohort_retention(o, as_of=D), ["cohort_month", "period"]),
        (lambda o, c, h: v.churn_rate_per_period(o, as_of=D), ["month"]),
        (lambda o, c, h: v.time_in_stage(h, as_of=D), ["stage"]),
        (lambda o, c, h: v.transition_matrix(h, start=dt.date(2024, 2, 1),
                                             end=dt.date(2024, 2, 29), kind="migration"),
         ["to_stage", "customers"]),
    ]
    for build, keys in cases:
        a = build(*tables["duckdb"]).execute()
        b = build(*tables["spark"]).execute()
        assert len(a) > 1
        frame_equal(a, b, sort_by=keys)
