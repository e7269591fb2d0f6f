"""Importing is idempotent: the same file adds nothing, a later export adds only what is new."""

from __future__ import annotations

import json
import shutil

import pytest
from ingest_files import assert_balanced, write_csv, write_jsonl

from clm.config import ProjectConfig
from clm.errors import DataFileError
from clm.ingest import import_file, import_folder, quarantine_frame

CUSTOMERS = [("C1", "张三", "2024-01-05"), ("C2", "李四", "2024/2/1"), ("C3", "王五", "bad")]
ORDERS = [("O1", "C1", "2024-03-01 10:00:00", "52,000", "已支付"),
          ("O2", "C2", "2024-03-02", "￥6,500.00", ""),  # GBK has only the full-width yen
          ("O3", "C3", "2024-03-03", "10", "paid"),  # C3 was quarantined: unknown customer
          ("O4", "C1", "2024-03-04", "-1", "paid")]
ORDER_HEADER = ("订单号", "客户ID", "下单时间", "金额", "状态")
EVENTS = [{"客户ID": "C1", "发生时间": "2024-03-01", "事件类型": "登录"},
          {"客户ID": "C2", "发生时间": "2024-03-02 08:00", "事件类型": "page_view"}]


def _folder(root, *, customers=CUSTOMERS, orders=ORDERS, events=EVENTS):
    root.mkdir(parents=True, exist_ok=True)
    write_csv(root / "customers.csv", ("客户ID", "姓名", "注册日期"), customers)
    write_csv(root / "orders.csv", ("订单号", "客户ID", "下单时间", "金额", "状态"), orders,
              encoding="gbk")
    write_jsonl(root / "events.jsonl", events)
    return root


def _run(folder, warehouse, **kw):
    return import_folder(folder, warehouse=warehouse, config=ProjectConfig(), **kw)


def test_folder_import_counts_every_row_and_reports_run_json(tmp_path, warehouse):
    calls = []
    report = _run(_folder(tmp_path / "d"), warehouse, progress=lambda *a: calls.append(a))

    for f in report.files:
        assert_balanced(f)
    run = report.to_json()
    assert [(f["table"], f["read"], f["imported"], f["quarantined"], f["added"])
            for f in run["files"]] == [("customers", 3, 2, 1, 2), ("orders", 4, 2, 2, 2),
                                      ("events", 2, 2, 0, 2)]
    assert run["files"][1]["encoding"] == "gbk"
    json.dumps(run)  # serialisable as is
    assert quarantine_frame(report)[["file", "line", "field"]].values.tolist() == [
        ["customers.csv", 4, "signup_date"], ["orders.csv", 4, "customer_id"],
        ["orders.csv", 5, "amount"]]
    assert calls[0] == ("customers", 0, 3) and calls[-1] == ("events", 2, 2)
    assert warehouse.counts() == {"customers": 2, "orders": 2, "events": 2, "interactions": 0}


def test_reimport_of_same_folder_adds_nothing(tmp_path, warehouse):
    folder = _folder(tmp_path / "d")
    _run(folder, warehouse)
    before = dict(warehouse.counts())

    again = _run(folder, warehouse)

    assert [(f.added, f.updated, f.unchanged) for f in again.files] == [
        (0, 0, 2), (0, 0, 2), (0, 0, 2)]
    assert dict(warehouse.counts()) == before
    assert warehouse.table("quarantine").count().execute() == 3


def test_later_export_adds_only_new_rows_and_updates_changed_ones(tmp_path, warehouse):
    _run(_folder(tmp_path / "v1"), warehouse)
    orders = [(*ORDERS[0][:4], "已退款"), ORDERS[1],
              ("O5", "C2", "2024-04-01", "99", "paid")]
    events = [{"客户ID": "C1", "发生时间": "2024/3/1", "事件类型": "login"},  # same event
              *EVENTS[1:], {"客户ID": "C1", "发生时间": "2024-04-01", "事件类型": "login"}]

    report = _run(_folder(tmp_path / "v2", orders=orders, events=events), warehouse)

    by_table = {f.table: (f.added, f.updated, f.unchanged) for f in report.files}
    assert by_table == {"customers": (0, 0, 2), "orders": (1, 1, 1), "events": (1, 0, 2)}
    stored = warehouse.table("orders").order_by("order_id").execute()
    assert list(stored["order_id"]) == ["O1", "O2", "O5"]
    assert list(stored["status"]) == ["refunded", "paid", "paid"]
    assert warehouse.table("events").count().execute() == 3


def test_export_without_some_columns_keeps_their_stored_values(tmp_path, warehouse):
    _run(_folder(tmp_path / "v1"), warehouse)
    v2 = tmp_path / "v2"
    v2.mkdir()
    write_csv(v2 / "customers.csv", ("客户ID", "负责人"), [("C1", "王经理"), ("C2", None)])
    write_csv(v2 / "orders.csv", ("订单号", "客户ID", "下单时间", "金额"),
              [("O1", "C1", "2024-03-01 10:00:00", "52000"), ("O9", "C1", "2024-05-01", "1")])
    write_csv(tmp_path / "v1_5.csv", ORDER_HEADER, [(*ORDERS[0][:4], "已退款")])
    import_file(tmp_path / "v1_5.csv", table="orders", warehouse=warehouse, config=ProjectConfig())

    report = _run(v2, warehouse)

    by_table = {f.table: (f.added, f.updated, f.unchanged) for f in report.files}
    assert by_table == {"customers": (0, 1, 1), "orders": (1, 0, 1)}
    customers = warehouse.table("customers").order_by("customer_id").execute()
    assert list(customers["name"]) == ["张三", "李四"]
    assert list(customers["owner"].fillna("")) == ["王经理", ""]
    orders = warehouse.table("orders").order_by("order_id").execute()
    assert list(orders["status"]) == ["refunded", "paid", "paid"]  # O1 kept, O9 defaulted


def test_reimport_replaces_the_files_quarantine_rows(tmp_path, warehouse):
    folder = _folder(tmp_path / "d")
    _run(folder, warehouse)
    fixed = [r if r[0] != "O4" else (*r[:3], "1", *r[4:]) for r in ORDERS]
    _folder(folder, orders=fixed)

    _run(folder, warehouse)

    q = warehouse.table("quarantine").order_by(["file", "line"]).execute()
    assert list(zip(q["file"], q["line"], q["code"], strict=True)) == [
        ("customers.csv", 4, "invalid_date"), ("orders.csv", 4, "unknown_customer")]
    assert json.loads(q["raw"][1])["订单号"] == "O3"


def test_import_file_uses_the_given_source_name(tmp_path, warehouse):
    path = write_csv(tmp_path / "upload-3f2a.csv", ("customer_id",), [("C1",), ("",)])

    report = import_file(path, table="customers", warehouse=warehouse, config=ProjectConfig(),
                         source_name="客户.csv")

    assert report.file == "客户.csv"
    assert quarantine_frame(report)["file"].tolist() == ["客户.csv"]
    assert warehouse.table("customers").execute()["source_file"].tolist() == ["客户.csv"]


def test_unknown_table_is_a_data_file_error(tmp_path, warehouse):
    path = write_csv(tmp_path / "x.csv", ("customer_id",), [("C1",)])

    with pytest.raises(DataFileError, match="unknown table 'products'"):
        import_file(path, table="products", warehouse=warehouse, config=ProjectConfig())


def test_missing_folder_is_a_data_file_error(tmp_path, warehouse):
    with pytest.raises(DataFileError, match="absent"):
        _run(tmp_path / "absent", warehouse)


def test_same_folder_on_a_duckdb_file_warehouse_survives_reconnect(tmp_path,
                                                                   duckdb_file_warehouse):
    from clm.warehouse import Warehouse

    folder = _folder(tmp_path / "d")
    _run(folder, duckdb_file_warehouse)
    duckdb_file_warehouse.con.disconnect()
    again = Warehouse.connect(duckdb_file_warehouse.url)

    report = _run(folder, again)

    assert sum(f.added for f in report.files) == 0
    assert again.counts()["orders"] == 2
    shutil.rmtree(folder)
