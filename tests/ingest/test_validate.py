"""Values are understood in their common forms; unusable rows are quarantined, never lost."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from ingest_files import assert_balanced, write_csv

from clm.config import ProjectConfig
from clm.ingest import import_file, quarantine_frame

ORDER_HEADER = ("order_id", "customer_id", "ordered_at", "amount", "status")


def _orders(tmp_path, warehouse, rows, *, header=ORDER_HEADER):
    path = write_csv(tmp_path / "orders.csv", header, rows)
    return import_file(path, table="orders", warehouse=warehouse, config=ProjectConfig())


def _stored(warehouse, table="orders"):
    return warehouse.table(table).order_by("source_line").execute()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01", dt.datetime(2024, 3, 1)),
        ("2024/3/1", dt.datetime(2024, 3, 1)),
        ("2024-03-01 10:00:00", dt.datetime(2024, 3, 1, 10)),
        ("2024年3月1日", dt.datetime(2024, 3, 1)),
        ("2024/03/01 09:30", dt.datetime(2024, 3, 1, 9, 30)),
        ("2024-03-01T10:00:00", dt.datetime(2024, 3, 1, 10)),
        ("2024年3月1日 10:05:09", dt.datetime(2024, 3, 1, 10, 5, 9)),
        ("20240301", dt.datetime(2024, 3, 1)),
        (" 2024-03-01 ", dt.datetime(2024, 3, 1)),
        ("\t2024/3/1\u3000", dt.datetime(2024, 3, 1)),
        ("2024.3.1", dt.datetime(2024, 3, 1)),
        ("2024-3-1 9:05", dt.datetime(2024, 3, 1, 9, 5)),
        ("2024-03-01 10:00:00.250", dt.datetime(2024, 3, 1, 10, 0, 0, 250000)),
        ("2024年3月1日10时05分", dt.datetime(2024, 3, 1, 10, 5)),
        ("20240301103000", dt.datetime(2024, 3, 1, 10, 30)),
        ("2024-03-01 10:00:00+08:00", dt.datetime(2024, 3, 1, 10)),  # wall clock kept
    ],
)
def test_date_forms_are_understood_and_stored_naive(tmp_path, warehouse, load_customers, text,
                                                    expected):
    load_customers()
    report = _orders(tmp_path, warehouse, [("O1", "C1", text, "1", "paid")])

    assert report.imported == 1, report.quarantine.to_pylist()
    assert _stored(warehouse)["ordered_at"][0].to_pydatetime() == expected


def test_date_only_column_keeps_the_day(tmp_path, warehouse):
    path = write_csv(tmp_path / "customers.csv", ("customer_id", "signup_date", "unsubscribed_on"),
                     [("C1", "2024年3月1日", "2024/12/31 23:59:59")])

    import_file(path, table="customers", warehouse=warehouse, config=ProjectConfig())

    row = warehouse.table("customers").to_pyarrow().to_pylist()[0]
    assert (row["signup_date"], row["unsubscribed_on"]) == (dt.date(2024, 3, 1),
                                                            dt.date(2024, 12, 31))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("52,000", 52000.0), ("¥6,500.00", 6500.0), ("￥6,500.00", 6500.0), ("6500元", 6500.0),
     ("1 234.5", 1234.5), ("0", 0.0), ("$19.99", 19.99), ("RMB 88", 88.0)],
)
def test_amount_forms_are_understood(tmp_path, warehouse, load_customers, text, expected):
    load_customers()
    report = _orders(tmp_path, warehouse, [("O1", "C1", "2024-03-01", text, "paid")])

    assert report.imported == 1
    assert _stored(warehouse)["amount"][0] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", "paid"), ("  ", "paid"), (" paid\u3000", "paid"), ("paid", "paid"), ("PAID", "paid"),
     ("已支付", "paid"), ("已付款", "paid"),
     ("退款", "refunded"), ("已退款", "refunded"), ("取消", "cancelled"), ("已取消", "cancelled"),
     ("canceled", "cancelled")],
)
def test_status_values_in_english_or_chinese_map_to_the_vocabulary(tmp_path, warehouse,
                                                                   load_customers, text, expected):
    load_customers()
    _orders(tmp_path, warehouse, [("O1", "C1", "2024-03-01", "1", text)])

    assert _stored(warehouse)["status"][0] == expected


def test_missing_status_column_defaults_to_paid(tmp_path, warehouse, load_customers):
    load_customers()
    _orders(tmp_path, warehouse, [("O1", "C1", "2024-03-01", "1")], header=ORDER_HEADER[:4])

    assert _stored(warehouse)["status"][0] == "paid"


BAD_ORDERS = [
    # (row, field, reason fragment)
    (("", "C1", "2024-03-01", "1", "paid"), "order_id", "required field order_id is empty"),
    (("O2", "", "2024-03-01", "1", "paid"), "customer_id", "required field customer_id"),
    (("O3", "C1", "", "1", "paid"), "ordered_at", "required field ordered_at"),
    (("O4", "C1", "2024-03-01", "", "paid"), "amount", "required field amount"),
    (("O5", "C1", "2024-02-30", "1", "paid"), "ordered_at", "not a valid date: '2024-02-30'"),
    (("O6", "C1", "2024-13-01", "1", "paid"), "ordered_at", "not a valid date"),
    (("O7", "C1", "yesterday", "1", "paid"), "ordered_at", "not a valid date"),
    (("O7a", "C1", "0024-03-01", "1", "paid"), "ordered_at", "not a valid date"),
    (("O7b", "C1", "03/01/2024", "1", "paid"), "ordered_at", "not a valid date"),
    (("O8", "C1", "2024-03-01", "-5", "paid"), "amount", "amount must be >= 0, got '-5'"),
    (("O9", "C1", "2024-03-01", "¥-6,500", "paid"), "amount", "amount must be >= 0"),
    (("O10", "C1", "2024-03-01", "abc", "paid"), "amount", "not a number: 'abc'"),
    (("O11", "C1", "2024-03-01", "nan", "paid"), "amount", "not a number"),
    (("O12", "C1", "2024-03-01", "1", "shipped"), "status", "unknown status 'shipped'"),
    (("O12a", "C1", "2024-03-01", "1", "待付款"), "status", "unknown status '待付款'"),
    (("O13", "C404", "2024-03-01", "1", "paid"), "customer_id", "unknown customer 'C404'"),
    (("O14", "c1", "2024-03-01", "1", "paid"), "customer_id", "unknown customer 'c1'"),
]


@pytest.mark.parametrize(("row", "field", "reason"), BAD_ORDERS, ids=[b[0][0] or "O1"
                                                                       for b in BAD_ORDERS])
def test_unusable_order_is_quarantined_with_field_reason_and_raw_row(tmp_path, warehouse,
                                                                     load_customers, row, field,
                                                                     reason):
    load_customers()
    good = ("G1", "C2", "2024-03-01", "10", "paid")
    report = _orders(tmp_path, warehouse, [good, row])

    assert_balanced(report)
    assert (report.read, report.imported, report.quarantined) == (2, 1, 1)
    frame = quarantine_frame(report)
    assert list(frame.columns) == ["file", "line", "field", "reason", "raw"]
    got = frame.iloc[0]
    assert (got["file"], got["line"], got["field"]) == ("orders.csv", 3, field)
    assert reason in got["reason"]
    assert json.loads(got["raw"]) == dict(zip(ORDER_HEADER, row, strict=True)) | {
        k: None for k, v in zip(ORDER_HEADER, row, strict=True) if v == ""}
    assert list(_stored(warehouse)["order_id"]) == ["G1"]


def test_first_failing_field_is_reported_in_contract_order(tmp_path, warehouse, load_customers):
    load_customers()
    report = _orders(tmp_path, warehouse, [("O1", "C404", "2024-02-30", "-1", "bogus")])

    assert report.quarantine.column("field").to_pylist() == ["ordered_at"]


def test_duplicate_id_in_one_file_quarantines_later_occurrences(tmp_path, warehouse,
                                                                load_customers):
    load_customers()
    rows = [("O1", "C1", "2024-03-01", "1", "paid"), ("O2", "C1", "2024-03-01", "2", "paid"),
            ("O1", "C2", "2024-03-02", "3", "paid"), ("O1", "C3", "2024-03-03", "4", "paid")]

    report = _orders(tmp_path, warehouse, rows)

    assert_balanced(report)
    frame = quarantine_frame(report)
    assert list(frame["line"]) == [4, 5]
    assert set(frame["reason"]) == {"duplicate order_id, first on line 2"}
    stored = _stored(warehouse)
    assert list(stored["order_id"]) == ["O1", "O2"] and stored["amount"][0] == 1.0


def test_duplicate_of_a_rejected_row_is_kept(tmp_path, warehouse, load_customers):
    load_customers()
    rows = [("O1", "C1", "bad date", "1", "paid"), ("O1", "C1", "2024-03-01", "1", "paid")]

    report = _orders(tmp_path, warehouse, rows)

    assert report.quarantine.column("line").to_pylist() == [2]
    assert report.imported == 1


def test_duplicate_customer_and_missing_id_in_customers(tmp_path, warehouse):
    path = write_csv(tmp_path / "customers.csv", ("客户ID", "姓名"),
                     [("C1", "张三"), ("C1", "张三丰"), ("", "无名")])

    report = import_file(path, table="customers", warehouse=warehouse, config=ProjectConfig())

    assert_balanced(report)
    frame = quarantine_frame(report)
    assert list(zip(frame["line"], frame["reason"], strict=True)) == [
        (3, "duplicate customer_id, first on line 2"),
        (4, "required field customer_id is empty")]
    assert json.loads(frame["raw"][1]) == {"客户ID": None, "姓名": "无名"}


EVENT_HEADER = ("客户ID", "发生时间", "事件类型", "功能")


def test_events_with_chinese_types_and_unknown_values(tmp_path, warehouse, load_customers):
    load_customers()
    path = write_csv(tmp_path / "events.csv", EVENT_HEADER, [
        ("C1", "2024-03-01 10:00:00", "登录", ""),
        ("C1", "2024-03-01 11:00:00", "功能使用", "报表"),
        ("C2", "2024-03-02", "Page View", ""),
        ("C2", "2024-03-02", "跳舞", ""),
        ("C404", "2024-03-02", "login", ""),
        ("C1", "2024/3/1 10:00", "login", ""),  # same event as line 2, another date form
    ])

    report = import_file(path, table="events", warehouse=warehouse, config=ProjectConfig())

    assert_balanced(report)
    stored = _stored(warehouse, "events")
    assert list(stored["event_type"]) == ["login", "feature_used", "page_view"]
    assert stored["feature"][1] == "报表"
    assert report.quarantine.column("code").to_pylist() == [
        "unknown_value", "unknown_customer", "duplicate_key"]


def test_interactions_parse_scores_and_map_types(tmp_path, warehouse, load_customers):
    load_customers()
    path = write_csv(
        tmp_path / "interactions.csv", ("客户ID", "发生时间", "互动类型", "评分", "被推荐客户ID"),
        [("C1", "2024-03-01", "满意度", "9.5", ""), ("C1", "2024-03-02", "转介绍", "", "C9"),
         ("C2", "2024-03-02", "投诉", "abc", ""), ("C2", "2024-03-03", "NPS", "10", "")])

    report = import_file(path, table="interactions", warehouse=warehouse, config=ProjectConfig())

    assert_balanced(report)
    stored = _stored(warehouse, "interactions")
    assert list(stored["interaction_type"]) == ["satisfaction", "referral", "nps"]
    assert stored["score"][0] == 9.5 and stored["referred_customer_id"][1] == "C9"
    assert report.quarantine.column("field").to_pylist() == ["score"]


def test_future_dates_are_accepted(tmp_path, warehouse, load_customers):
    load_customers()
    report = _orders(tmp_path, warehouse, [("O1", "C1", "2099-01-01", "1", "paid")])

    assert report.imported == 1


def test_ids_are_trimmed_of_ascii_and_full_width_spaces(tmp_path, warehouse, load_customers):
    load_customers()
    report = _orders(tmp_path, warehouse, [("\u3000O1 ", "\tC1 ", "2024-03-01", "1", "paid")])

    assert report.imported == 1
    stored = _stored(warehouse)
    assert (stored["order_id"][0], stored["customer_id"][0]) == ("O1", "C1")
