"""The same features and stages on DuckDB, PostgreSQL and PySpark, on the demo company.

The analytics are Ibis expressions precisely so a data team can run them where their orders
live; these tests are what makes that claim true. Each backend gets the same canonical input
tables (as memtables, which every backend materialises its own way), computes features and
stages as of two dates (the second with the first's result as its history), and must agree
with DuckDB exactly on stages, grey zones and reasons, and to 1e-9 on numeric features.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from clm.analytics.feature_catalog import FEATURES
from clm.analytics.features import compute_features
from clm.analytics.rules import assign_stages, load_model
from clm.config import ProjectConfig
from clm.datasets.demo import generate_demo, write_demo
from clm.ingest import import_folder
from clm.warehouse import Warehouse

D1 = dt.date(2025, 9, 30)
D2 = dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def demo_tables(tmp_path_factory) -> dict[str, pd.DataFrame]:
    """The demo company (600 customers) imported into DuckDB, as canonical DataFrames."""
    folder = tmp_path_factory.mktemp("demo")
    write_demo(generate_demo(customers=600, seed=11), folder)
    wh = Warehouse.in_memory()
    import_folder(folder, warehouse=wh, config=ProjectConfig())
    return {name: t.execute() for name, t in wh.input_tables().items()}


def _table(con, name: str, frame: pd.DataFrame, folder: Path):
    """``frame`` as a table of backend ``con``.

    Spark gets a Parquet file it reads natively: Ibis 12's pandas-to-Spark path turns an int64
    column holding any null into all nulls.
    """
    if con.name == "pyspark":
        path = folder / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        return con.read_parquet(str(path), table_name=f"parity_{name}_{folder.name}")
    return ibis.memtable(frame)


def _compute(con, frames: dict[str, pd.DataFrame], folder: Path):
    tables = {name: _table(con, name, df, folder) for name, df in frames.items()}
    model = load_model("default")
    f1 = compute_features(tables, as_of=D1)
    s1 = con.to_pandas(assign_stages(f1, model=model, as_of=D1, previous=None))
    state = s1[["customer_id", "stage", "stage_since", "previous_stage"]].assign(
        stage_since=pd.to_datetime(s1["stage_since"]).dt.date
    )
    previous = _table(con, "previous", state, folder)
    f2 = compute_features(tables, as_of=D2)
    features = con.to_pandas(f2)
    s2 = con.to_pandas(assign_stages(f2, model=model, as_of=D2, previous=previous))
    return features, s1, s2


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values("customer_id").reset_index(drop=True)
    for col in frame.columns:
        if col == "stage_since":
            frame[col] = pd.to_datetime(frame[col]).dt.date
    return frame


@pytest.fixture(scope="module")
def duckdb_result(demo_tables, tmp_path_factory):
    return _compute(ibis.duckdb.connect(), demo_tables, tmp_path_factory.mktemp("duckdb"))


def _assert_same(expected, actual):
    exp_f, exp_s1, exp_s2 = (_normalise(x) for x in expected)
    act_f, act_s1, act_s2 = (_normalise(x) for x in actual)
    assert len(exp_f) == len(act_f) > 500
    for spec in FEATURES:
        e, a = exp_f[spec.name], act_f[spec.name]
        assert (e.isna() == a.isna()).all(), spec.name
        mask = ~e.isna()
        if spec.dtype == "bool":
            assert (e[mask].astype(bool) == a[mask].astype(bool)).all(), spec.name
        elif spec.dtype in ("date", "str", "string"):
            assert (e[mask].astype(str) == a[mask].astype(str)).all(), spec.name
        else:
            np.testing.assert_allclose(
                e[mask].astype(float),
                a[mask].astype(float),
                rtol=1e-9,
                atol=1e-9,
                err_msg=spec.name,
            )
    for exp, act in ((exp_s1, act_s1), (exp_s2, act_s2)):
        for col in (
            "customer_id",
            "stage",
            "stage_since",
            "previous_stage",
            "grey_zone",
            "reasons",
        ):
            left = exp[col].astype(object).where(exp[col].notna(), None)
            right = act[col].astype(object).where(act[col].notna(), None)
            mismatch = left.ne(right) & ~(left.isna() & right.isna())
            assert not mismatch.any(), (col, exp[mismatch].head(3), act[mismatch].head(3))


def test_duckdb_result_covers_every_stage(duckdb_result):
    _, _, s2 = duckdb_result
    assert set(s2["stage"]) >= {"prospect", "growing", "mature", "declining", "churned"}


@pytest.mark.postgres
def test_postgres_computes_what_duckdb_computes(demo_tables, duckdb_result, pg_warehouse, tmp_path):
    assert _assert_same(duckdb_result, _compute(pg_warehouse.con, demo_tables, tmp_path)) is None


@pytest.mark.spark
def test_spark_computes_what_duckdb_computes(demo_tables, duckdb_result, spark_backend, tmp_path):
    assert _assert_same(duckdb_result, _compute(spark_backend, demo_tables, tmp_path)) is None
