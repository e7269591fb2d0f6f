"""Every supported format is read, and ``line`` points at the row in the user's own file."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from ingest_files import (
    assert_balanced,
    customers_csv,
    write_csv,
    write_jsonl,
    write_parquet,
    write_xlsx,
)

from clm.config import IngestConfig, ProjectConfig
from clm.errors import DataFileError
from clm.ingest import import_file, quarantine_frame
from clm.ingest.readers import find_table_files


def _import(path, warehouse, table="orders"):
    return import_file(path, table=table, warehouse=warehouse, config=ProjectConfig())


def _lines(report):
    return report.quarantine.column("line").to_pylist()


def test_xlsx_dates_numbers_and_excel_row_numbers(tmp_path, warehouse, load_customers):
    load_customers()
    path = write_xlsx(tmp_path / "orders.xlsx", ("订单号", "客户ID", "下单时间", "金额", "状态"), [
        ("O1", "C1", dt.datetime(2024, 3, 1, 10, 30), 52000, "已支付"),
        (1002, "C2", "2024/3/2", 6500.5, None),
        (None, None, None, None, None),  # an empty row in the sheet: skipped, not read
        ("O3", "C3", 45352, "¥1,000", "paid"),  # unformatted cell holding a date serial
        ("O4", "C404", dt.date(2024, 3, 4), 1, "paid"),
    ])

    report = _import(path, warehouse)

    assert report.format == "xlsx" and report.encoding is None
    assert_balanced(report)
    assert (report.read, report.imported) == (4, 3)
    assert _lines(report) == [6]  # header is Excel row 1, the empty row is row 4
    stored = warehouse.table("orders").order_by("source_line").to_pyarrow().to_pylist()
    assert [r["order_id"] for r in stored] == ["O1", "1002", "O3"]
    assert stored[0]["ordered_at"] == dt.datetime(2024, 3, 1, 10, 30)
    assert stored[2]["ordered_at"] == dt.datetime(2024, 3, 1)  # serial 45352
    assert [r["amount"] for r in stored] == [52000.0, 6500.5, 1000.0]
    assert [r["source_line"] for r in stored] == [2, 3, 5]


def test_xlsx_prefers_the_sheet_named_after_the_table(tmp_path, warehouse):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["notes"])
    sheet = book.create_sheet("customers")
    sheet.append(["客户ID", "姓名"])
    sheet.append(["C1", "张三"])
    book.save(tmp_path / "customers.xlsx")

    report = _import(tmp_path / "customers.xlsx", warehouse, "customers")

    assert report.imported == 1


def test_parquet_typed_columns_are_read_and_lines_are_row_index_plus_one(tmp_path, warehouse,
                                                                         load_customers):
    load_customers()
    path = write_parquet(tmp_path / "orders.parquet", {
        "order_id": ["O1", "O2", "O3"],
        "customer_id": ["C1", "C2", "C404"],
        "ordered_at": [dt.datetime(2024, 3, 1, 10), dt.datetime(2024, 3, 2), None],
        "amount": [10.5, 20.0, 1.0],
    })

    report = _import(path, warehouse)

    assert_balanced(report)
    assert (report.imported, _lines(report)) == (2, [3])
    stored = warehouse.table("orders").order_by("source_line").to_pyarrow().to_pylist()
    assert stored[0]["ordered_at"] == dt.datetime(2024, 3, 1, 10)
    assert [r["source_line"] for r in stored] == [1, 2]


def test_parquet_timestamps_with_a_zone_become_naive_utc(tmp_path, warehouse, load_customers):
    import pyarrow as pa

    load_customers()
    ts = pa.array([dt.datetime(2024, 3, 1, 2, tzinfo=dt.UTC)],
                  pa.timestamp("us", tz="Asia/Shanghai"))
    path = write_parquet(tmp_path / "events.parquet",
                         {"customer_id": ["C1"], "occurred_at": ts, "event_type": ["login"]})

    _import(path, warehouse, "events")

    assert warehouse.table("events").to_pyarrow().to_pylist()[0]["occurred_at"] == dt.datetime(
        2024, 3, 1, 2)


def test_json_lines_with_bad_lines_quarantined_by_line_number(tmp_path, warehouse,
                                                              load_customers):
    load_customers()
    path = tmp_path / "events.jsonl"
    write_jsonl(path, [{"客户ID": "C1", "发生时间": "2024-03-01", "事件类型": "登录"}])
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n{not json}\n[1, 2]\n")
        fh.write(json.dumps({"客户ID": "C2", "发生时间": "2024-03-02", "事件类型": "feature_used",
                             "功能": "export", "extra": 1}) + "\n")

    report = _import(path, warehouse, "events")

    assert report.format == "jsonl"
    assert_balanced(report)
    assert (report.read, report.imported, _lines(report)) == (4, 2, [3, 4])
    assert quarantine_frame(report)["raw"][0] == json.dumps({"_line": "{not json}"})


@pytest.mark.parametrize("reader", ["duckdb", "python"])
@pytest.mark.parametrize("blank_line", [False, True], ids=["dense", "blank-line"])
def test_json_lines_readers_agree_on_values_lines_and_reasons(tmp_path, warehouse, monkeypatch,
                                                              load_customers, blank_line, reader):
    from clm.ingest import text_readers

    if reader == "python":
        monkeypatch.setattr(text_readers, "_read_json_lines_duckdb", lambda *a, **k: None)
    load_customers()
    lines = [json.dumps({"客户ID": "C1", "发生时间": "2024-03-01", "事件类型": "登录"},
                        ensure_ascii=False),
             '{"客户ID": "C2", "发生时间": "2024-03-02", "事件类型": 7, "功能": {"a": 1}}',
             "oops",
             '"a string"',
             '{"客户ID": "C3", "发生时间": "2024-03-03", "事件类型": "login", "a\\"b": true}']
    if blank_line:
        lines.insert(1, "")
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n", "utf-8")

    report = _import(tmp_path / "events.jsonl", warehouse, "events")

    assert_balanced(report)
    shift = 1 if blank_line else 0
    frame = quarantine_frame(report)
    assert list(frame["line"]) == [2 + shift, 3 + shift, 4 + shift]
    assert list(frame["reason"])[1:] == ["not valid JSON", "not a JSON object"]
    assert json.loads(frame["raw"][0]) == {"客户ID": "C2", "发生时间": "2024-03-02",
                                           "事件类型": "7", "功能": '{"a":1}', 'a"b': None}
    assert report.unmapped == ['a"b']
    assert report.imported == 2


def test_json_array_file_uses_record_numbers(tmp_path, warehouse):
    path = tmp_path / "customers.json"
    path.write_text(json.dumps([{"customer_id": "C1"}, {"customer_id": ""}, {"customer_id": 7}]),
                    "utf-8")

    report = _import(path, warehouse, "customers")

    assert (report.imported, _lines(report)) == (2, [2])
    assert sorted(warehouse.table("customers").to_pyarrow()["customer_id"].to_pylist()) == [
        "7", "C1"]


def test_csv_line_numbers_count_quoted_line_breaks_and_blank_lines(tmp_path, warehouse):
    path = tmp_path / "customers.csv"
    path.write_text(
        'customer_id,name\nC1,"two\nlines"\n\nC2,plain\n,missing id\n', encoding="utf-8"
    )

    report = _import(path, warehouse, "customers")

    assert _lines(report) == [6]
    stored = warehouse.table("customers").order_by("source_line").to_pyarrow().to_pylist()
    assert [(r["name"], r["source_line"]) for r in stored] == [("two\nlines", 2), ("plain", 5)]


def test_csv_row_with_wrong_field_count_is_quarantined_not_fatal(tmp_path, warehouse):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,name\nC1,a\nC2,b,c\nC3\nC4,d\n", encoding="utf-8")

    report = _import(path, warehouse, "customers")

    assert_balanced(report)
    assert (report.read, report.imported) == (4, 2)
    frame = quarantine_frame(report)
    assert list(frame["line"]) == [3, 4]
    assert frame["reason"][0] == "expected 2 fields, found 3"
    assert json.loads(frame["raw"][0]) == {"customer_id": "C2", "name": "b", "_extra_1": "c"}


def test_semicolon_and_tab_separated_files_are_sniffed(tmp_path, warehouse):
    (tmp_path / "customers.csv").write_text("客户ID;姓名\nC1;张三\nC2;李四\n", "utf-8")

    assert _import(tmp_path / "customers.csv", warehouse, "customers").imported == 2


def test_header_only_file_imports_nothing(tmp_path, warehouse):
    path = write_csv(tmp_path / "customers.csv", ("customer_id",), [])

    report = _import(path, warehouse, "customers")

    assert (report.read, report.imported, report.quarantined) == (0, 0, 0)


def test_empty_file_is_a_data_file_error(tmp_path, warehouse):
    (tmp_path / "customers.csv").write_bytes(b"")

    with pytest.raises(DataFileError, match=r"customers\.csv: the file is empty"):
        _import(tmp_path / "customers.csv", warehouse, "customers")


def test_missing_file_and_unsupported_type_are_data_file_errors(tmp_path, warehouse):
    with pytest.raises(DataFileError, match=r"nope\.csv"):
        _import(tmp_path / "nope.csv", warehouse, "customers")
    (tmp_path / "customers.txt").write_text("customer_id\nC1\n", "utf-8")
    with pytest.raises(DataFileError, match=r"unsupported file type \.txt"):
        _import(tmp_path / "customers.txt", warehouse, "customers")


def test_corrupt_xlsx_and_parquet_are_data_file_errors(tmp_path, warehouse):
    for name in ("customers.xlsx", "customers.parquet"):
        (tmp_path / name).write_bytes(b"not really")
        with pytest.raises(DataFileError, match=name):
            _import(tmp_path / name, warehouse, "customers")


def test_folder_files_found_by_table_name_in_any_case_and_format(tmp_path):
    customers_csv(tmp_path)
    write_jsonl(tmp_path / "Events.JSONL", [])
    (tmp_path / "notes.txt").write_text("x", "utf-8")

    found = find_table_files(tmp_path, ingest=IngestConfig())

    assert {t: p.name for t, p in found.items()} == {"customers": "customers.csv",
                                                      "events": "Events.JSONL"}


def test_configured_file_names_are_used_and_must_exist(tmp_path):
    write_csv(tmp_path / "客户.csv", ("客户ID",), [("C1",)])
    ingest = IngestConfig(files={"customers": "客户.csv", "orders": "订单.xlsx"})

    with pytest.raises(DataFileError, match=r"订单\.xlsx"):
        find_table_files(tmp_path, ingest=ingest)
    ingest = IngestConfig(files={"customers": "客户.csv"})
    assert find_table_files(tmp_path, ingest=ingest)["customers"].name == "客户.csv"


def test_folder_without_customers_or_with_two_candidates_is_an_error(tmp_path):
    with pytest.raises(DataFileError, match="no customers file"):
        find_table_files(tmp_path, ingest=IngestConfig())
    customers_csv(tmp_path)
    write_xlsx(tmp_path / "customers.xlsx", ("customer_id",), [("C1",)])
    with pytest.raises(DataFileError, match="several files for customers"):
        find_table_files(tmp_path, ingest=IngestConfig())


def test_missing_folder_is_a_data_file_error(tmp_path):
    with pytest.raises(DataFileError, match="data folder not found"):
        find_table_files(tmp_path / "absent", ingest=IngestConfig())


def test_typed_parquet_columns_are_used_without_a_text_round_trip(tmp_path, warehouse,
                                                                  load_customers):
    import pyarrow as pa

    load_customers()
    path = write_parquet(tmp_path / "orders.parquet", {
        "order_id": pa.array([1001, 1002, 1003], pa.int64()),
        "customer_id": ["C1", "C2", "C3"],
        "ordered_at": pa.array([dt.date(2024, 3, 1), dt.date(1800, 1, 1), None], pa.date32()),
        "amount": pa.array([52000, -1, 3], pa.int32()),
        "status": ["已支付", "paid", "paid"],
    })

    report = _import(path, warehouse)

    assert_balanced(report)
    stored = warehouse.table("orders").to_pyarrow().to_pylist()
    assert [(r["order_id"], r["ordered_at"], r["amount"], r["status"]) for r in stored] == [
        ("1001", dt.datetime(2024, 3, 1), 52000.0, "paid")]
    frame = quarantine_frame(report)
    assert list(zip(frame["line"], frame["field"], strict=True)) == [(2, "ordered_at"),
                                                                     (3, "ordered_at")]
    assert frame["reason"][0].startswith("not a valid date: '1800-01-01")
    assert json.loads(frame["raw"][0]) == {"order_id": "1002", "customer_id": "C2",
                                           "ordered_at": "1800-01-01", "amount": "-1",
                                           "status": "paid"}
