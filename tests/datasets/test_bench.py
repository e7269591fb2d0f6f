"""The benchmark generator writes exact row counts with the warehouse's column types."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from clm.datasets.bench import generate_bench, schema
from clm.domain.contract import TABLES
from clm.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
COUNTS = {"customers": 700, "orders": 9_000, "events": 6_000, "interactions": 800}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, pa.Table]:
    folder = tmp_path_factory.mktemp("bench")
    paths = generate_bench(folder, seed=5, **COUNTS)
    return {name: pq.read_table(path) for name, path in paths.items()}


def test_writes_the_four_parquet_files_with_the_requested_rows(files):
    assert sorted(files) == sorted(TABLES)
    for name, table in files.items():
        assert table.num_rows == COUNTS[name], name


def test_columns_are_the_contract_columns_with_warehouse_types(files):
    for name, table in files.items():
        assert table.column_names == TABLES[name].column_names
        assert table.schema.equals(schema(name)), name
    assert files["orders"].schema.field("ordered_at").type == pa.timestamp("us")
    assert files["orders"].schema.field("amount").type == pa.float64()
    assert files["customers"].schema.field("signup_date").type == pa.date32()


def test_ids_are_unique_and_rows_reference_known_customers(files):
    customers = files["customers"]["customer_id"]
    assert pc.count_distinct(customers).as_py() == customers.length()
    orders = files["orders"]["order_id"]
    assert pc.count_distinct(orders).as_py() == orders.length()
    for name in ("orders", "events", "interactions"):
        assert pc.all(pc.is_in(files[name]["customer_id"], value_set=customers)).as_py(), name


def test_values_are_plausible(files):
    orders = files["orders"].to_pandas()
    assert orders["ordered_at"].min() >= pd.Timestamp("2024-01-01")
    assert orders["ordered_at"].max() < pd.Timestamp("2026-01-01")
    assert (orders["amount"] > 0).all()
    per_customer = orders.groupby("customer_id").size()
    assert per_customer.max() > 5 * per_customer.median()  # skewed, a few heavy buyers
    assert per_customer.size < COUNTS["customers"]  # prospects never order
    for name, column in (("orders", "status"), ("events", "event_type"),
                         ("interactions", "interaction_type")):
        allowed = set(TABLES[name].column(column).allowed)
        assert set(files[name][column].to_pylist()) <= allowed
    events = files["events"].to_pandas()
    assert (events["feature"].notna() == (events["event_type"] == "feature_used")).all()


def test_same_seed_writes_the_same_data(tmp_path, files):
    again = generate_bench(tmp_path, seed=5, **COUNTS)
    for name, path in again.items():
        assert pq.read_table(path).equals(files[name]), name


def test_negative_counts_are_refused_naming_the_option(tmp_path):
    with pytest.raises(InputError) as info:
        generate_bench(tmp_path, customers=10, orders=-1)
    assert info.value.context["field"] == "orders"


def test_the_script_scales_every_count(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench/generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--out", str(tmp_path), "--scale", "0.0005"]) == 0
    assert pq.read_metadata(tmp_path / "customers.parquet").num_rows == 500
    assert pq.read_metadata(tmp_path / "orders.parquet").num_rows == 10_000
    assert pq.read_metadata(tmp_path / "interactions.parquet").num_rows == 1_000
    assert "peak RSS" in capsys.readouterr().out
