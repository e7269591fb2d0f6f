"""Loading works the same on every warehouse backend: DuckDB here, PostgreSQL where it runs."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_files import write_csv

from clm.config import ProjectConfig
from clm.ingest import import_folder
from clm.ingest.load import load_rows, replace_quarantine
from clm.ingest.report import empty_quarantine


def _folder(root, *, status="paid"):
    root.mkdir(exist_ok=True)
    write_csv(root / "customers.csv", ("客户ID", "姓名"), [("C1", "张三"), ("C2", "李四")])
    write_csv(root / "orders.csv", ("订单号", "客户ID", "下单时间", "金额", "状态"),
              [("O1", "C1", "2024-03-01", "52,000", status), ("O2", "C9", "2024-03-01", "1", "")])
    return root


def _orders(rows, path):
    """Accepted orders as the staging DuckDB hands them over: a Parquet file."""
    pq.write_table(_orders_table(rows), path)
    return path


def _orders_table(rows):
    return pa.table({
        "order_id": [r[0] for r in rows], "customer_id": ["C1"] * len(rows),
        "ordered_at": pa.array([dt.datetime(2024, 3, 1)] * len(rows), pa.timestamp("us")),
        "amount": [float(r[1]) for r in rows], "status": ["paid"] * len(rows),
        "row_key": [r[0] for r in rows], "source_file": ["o.csv"] * len(rows),
        "source_line": pa.array(range(2, len(rows) + 2), pa.int64()),
    })


def _load_counts_added_updated_unchanged(warehouse, tmp_path):
    first = _orders([("O1", 1), ("O2", 2)], tmp_path / "1.parquet")
    assert load_rows(warehouse, table="orders", path=first) == (2, 0, 0)

    later = _orders([("O1", 1), ("O2", 5), ("O3", 3)], tmp_path / "2.parquet")
    counts = load_rows(warehouse, table="orders", path=later)

    assert counts == (1, 1, 1)
    stored = warehouse.table("orders").order_by("order_id").execute()
    assert list(stored["amount"]) == [1.0, 5.0, 3.0]
    assert list(stored["source_line"]) == [2, 3, 4]


def test_load_rows_counts_added_updated_unchanged(warehouse, tmp_path):
    _load_counts_added_updated_unchanged(warehouse, tmp_path)


@pytest.mark.postgres
def test_load_rows_counts_added_updated_unchanged_on_postgresql(pg_warehouse, tmp_path):
    _load_counts_added_updated_unchanged(pg_warehouse, tmp_path)
    assert "__clm_incoming_orders" not in pg_warehouse.con.list_tables(
        database=pg_warehouse.database)


def test_null_values_compare_equal_so_unchanged_rows_stay_unchanged(warehouse, tmp_path):
    rows = _orders_table([("O1", 1)]).set_column(4, "status", pa.array([None], pa.string()))
    pq.write_table(rows, tmp_path / "o.parquet")
    load_rows(warehouse, table="orders", path=tmp_path / "o.parquet")

    assert load_rows(warehouse, table="orders", path=tmp_path / "o.parquet") == (0, 0, 1)


def test_an_empty_file_loads_nothing(warehouse, tmp_path):
    path = _orders([], tmp_path / "empty.parquet")

    assert load_rows(warehouse, table="orders", path=path) == (0, 0, 0)
    assert warehouse.table("orders").count().execute() == 0


def _stored_order(warehouse, table, columns):
    """The rows of ``table`` as DuckDB scans them, without ORDER BY: the storage order."""
    names = ", ".join(columns)
    return warehouse.con.con.execute(f"SELECT {names} FROM {table}").fetchall()


def test_duckdb_stores_orders_by_customer_and_time_after_every_load(warehouse, tmp_path):
    def orders(rows):  # (order_id, customer_id, day of March, line)
        return pa.table({
            "order_id": [r[0] for r in rows], "customer_id": [r[1] for r in rows],
            "ordered_at": pa.array([dt.datetime(2024, 3, r[2]) for r in rows], pa.timestamp("us")),
            "amount": [1.0] * len(rows), "status": ["paid"] * len(rows),
            "row_key": [r[0] for r in rows], "source_file": ["o.csv"] * len(rows),
            "source_line": pa.array([r[3] for r in rows], pa.int64()),
        })

    pq.write_table(orders([("O1", "C2", 5, 2), ("O2", "C1", 9, 3), ("O3", "C1", 1, 4)]),
                   tmp_path / "1.parquet")
    load_rows(warehouse, table="orders", path=tmp_path / "1.parquet")
    assert _stored_order(warehouse, "orders", ["order_id", "source_line"]) == [
        ("O3", 4), ("O2", 3), ("O1", 2)]
    types = warehouse.con.con.execute("DESCRIBE orders").fetchall()

    pq.write_table(orders([("O1", "C0", 5, 2), ("O4", "C1", 3, 3)]), tmp_path / "2.parquet")
    assert load_rows(warehouse, table="orders", path=tmp_path / "2.parquet") == (1, 1, 0)

    assert _stored_order(warehouse, "orders", ["order_id", "customer_id", "source_line"]) == [
        ("O1", "C0", 2), ("O3", "C1", 4), ("O4", "C1", 3), ("O2", "C1", 3)]
    assert warehouse.con.con.execute("DESCRIBE orders").fetchall() == types  # same table shape


def test_duckdb_stores_events_by_month_then_customer_and_time(warehouse, tmp_path):
    """Events are read a date window at a time by a backfill: month-major storage lets DuckDB
    skip the row groups of other months (warehouse.CLUSTER_KEYS)."""
    def events(rows):  # (customer_id, month, day, line)
        return pa.table({
            "customer_id": [r[0] for r in rows],
            "occurred_at": pa.array([dt.datetime(2024, r[1], r[2]) for r in rows],
                                    pa.timestamp("us")),
            "event_type": ["login"] * len(rows), "feature": pa.array([None] * len(rows),
                                                                    pa.string()),
            "row_key": [f"{r[0]}|{r[1]}|{r[2]}" for r in rows],
            "source_file": ["e.csv"] * len(rows),
            "source_line": pa.array([r[3] for r in rows], pa.int64()),
        })

    pq.write_table(events([("C2", 1, 20, 2), ("C1", 2, 3, 3), ("C1", 1, 31, 4), ("C1", 1, 5, 5)]),
                   tmp_path / "1.parquet")
    load_rows(warehouse, table="events", path=tmp_path / "1.parquet")
    assert _stored_order(warehouse, "events", ["source_line"]) == [(5,), (4,), (2,), (3,)]

    pq.write_table(events([("C0", 2, 1, 6)]), tmp_path / "2.parquet")
    assert load_rows(warehouse, table="events", path=tmp_path / "2.parquet") == (1, 0, 0)
    assert _stored_order(warehouse, "events", ["source_line"]) == [(5,), (4,), (2,), (6,), (3,)]


def test_customers_keep_file_order_on_duckdb(tmp_path, warehouse):
    write_csv(tmp_path / "customers.csv", ("customer_id",), [("C9",), ("C1",), ("C5",)])
    import_folder(tmp_path, warehouse=warehouse, config=ProjectConfig())

    assert _stored_order(warehouse, "customers", ["customer_id"]) == [("C9",), ("C1",), ("C5",)]


def test_replacing_quarantine_of_one_file_keeps_other_files(warehouse):
    def rows(file, n):
        return pa.table({"file": [file] * n, "table": ["orders"] * n, "line": list(range(2, n + 2)),
                         "field": ["amount"] * n, "code": ["below_minimum"] * n,
                         "reason": ["x"] * n, "raw": ["{}"] * n}).cast(empty_quarantine().schema)

    now = dt.datetime(2025, 1, 1)
    replace_quarantine(warehouse, table="orders", file="a.csv", rows=rows("a.csv", 3),
                       import_id="1", imported_at=now)
    replace_quarantine(warehouse, table="orders", file="b.csv", rows=rows("b.csv", 2),
                       import_id="1", imported_at=now)
    replace_quarantine(warehouse, table="orders", file="a.csv", rows=rows("a.csv", 1),
                       import_id="2", imported_at=now)

    q = warehouse.table("quarantine").execute()
    assert sorted(zip(q["file"], q["import_id"], strict=True)) == [
        ("a.csv", "2"), ("b.csv", "1"), ("b.csv", "1")]


@pytest.mark.postgres
def test_import_is_idempotent_on_postgresql(tmp_path, pg_warehouse):
    folder = _folder(tmp_path / "d")
    first = import_folder(folder, warehouse=pg_warehouse, config=ProjectConfig())
    again = import_folder(_folder(folder, status="退款"), warehouse=pg_warehouse,
                          config=ProjectConfig())

    assert [(f.added, f.quarantined) for f in first.files] == [(2, 0), (1, 1)]
    assert [(f.added, f.updated, f.unchanged) for f in again.files] == [(0, 0, 2), (0, 1, 0)]
    assert pg_warehouse.table("orders").execute()["status"].tolist() == ["refunded"]
    assert pg_warehouse.table("quarantine").count().execute() == 1
