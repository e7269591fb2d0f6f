"""Loading works the same on every warehouse backend: DuckDB here, PostgreSQL where it runs."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
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


def _orders(rows):
    return pa.table({
        "order_id": [r[0] for r in rows], "customer_id": ["C1"] * len(rows),
        "ordered_at": pa.array([dt.datetime(2024, 3, 1)] * len(rows), pa.timestamp("us")),
        "amount": [float(r[1]) for r in rows], "status": ["paid"] * len(rows),
        "row_key": [r[0] for r in rows], "source_file": ["o.csv"] * len(rows),
        "source_line": pa.array(range(2, len(rows) + 2), pa.int64()),
    })


def test_load_rows_counts_added_updated_unchanged(warehouse):
    assert load_rows(warehouse, table="orders", rows=_orders([("O1", 1), ("O2", 2)])) == (2, 0, 0)

    counts = load_rows(warehouse, table="orders", rows=_orders([("O1", 1), ("O2", 5), ("O3", 3)]))

    assert counts == (1, 1, 1)
    stored = warehouse.table("orders").order_by("order_id").execute()
    assert list(stored["amount"]) == [1.0, 5.0, 3.0]


def test_null_values_compare_equal_so_unchanged_rows_stay_unchanged(warehouse):
    rows = _orders([("O1", 1)]).set_column(4, "status", pa.array([None], pa.string()))
    load_rows(warehouse, table="orders", rows=rows)

    assert load_rows(warehouse, table="orders", rows=rows) == (0, 0, 1)


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
