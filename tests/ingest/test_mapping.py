"""Headers map onto the contract: built-in synonyms (zh/en), config mapping, clear errors."""

from __future__ import annotations

import pytest
from ingest_files import assert_balanced, write_csv

from clm.config import IngestConfig, ProjectConfig
from clm.domain.contract import TABLES
from clm.errors import ConfigError, DataFileError
from clm.ingest import import_file
from clm.ingest.mapping import resolve_columns
from clm.ingest.synonyms import HEADER_SYNONYMS, VALUE_SYNONYMS, normalize_label, value_lookup


def test_chinese_order_export_maps_without_config(tmp_path, warehouse, load_customers):
    load_customers()
    header = ("订单号", "客户编号", "下单日期", "订单金额", "订单状态")
    path = write_csv(tmp_path / "orders.csv", header, [("O1", "C1", "2024-03-01", "100", "已支付")])

    report = import_file(path, table="orders", warehouse=warehouse, config=ProjectConfig())

    assert report.columns == {"order_id": "订单号", "customer_id": "客户编号",
                              "ordered_at": "下单日期", "amount": "订单金额", "status": "订单状态"}
    assert report.imported == 1


@pytest.mark.parametrize("header", ["customer_id", "Customer ID", " CUSTOMER-ID ", "customerId",
                                    "客户ID", "客户ＩＤ", " 客户编号 "])
def test_header_matching_ignores_case_space_and_width(header):
    mapping = resolve_columns([header, "name"], table="customers", file="customers.csv")

    assert mapping.source("customer_id") == header


def test_config_mapping_wins_over_synonyms_and_unused_headers_are_reported():
    mapping = resolve_columns(
        ["编号", "客户ID", "备注"], table="customers", file="c.csv",
        config_columns={"customers": {"编号": "customer_id"}},
    )

    assert mapping.source("customer_id") == "编号"
    assert mapping.unmapped == ("客户ID", "备注")


def test_config_mapping_imports_a_file_with_unusual_headers(tmp_path, warehouse, load_customers):
    load_customers()
    path = write_csv(tmp_path / "orders.csv", ("单据", "买家", "日子", "钱"),
                     [("O1", "C2", "2024-03-01", "9.5")])
    config = ProjectConfig(ingest=IngestConfig(columns={"orders": {
        "单据": "order_id", "买家": "customer_id", "日子": "ordered_at", "钱": "amount"}}))

    report = import_file(path, table="orders", warehouse=warehouse, config=config)

    assert_balanced(report)
    stored = warehouse.table("orders").execute()
    assert (stored["order_id"][0], stored["customer_id"][0], stored["amount"][0]) == (
        "O1", "C2", 9.5)


def test_config_mapping_onto_unknown_column_is_a_config_error():
    with pytest.raises(ConfigError, match="not a column of orders"):
        resolve_columns(["x"], table="orders", file="o.csv",
                        config_columns={"orders": {"x": "price"}})


def test_missing_required_column_names_file_column_and_headers_found(tmp_path, warehouse,
                                                                     load_customers):
    load_customers()
    path = write_csv(tmp_path / "orders.csv", ("order_id", "customer_id", "amount"),
                     [("O1", "C1", "1")])

    with pytest.raises(DataFileError) as info:
        import_file(path, table="orders", warehouse=warehouse, config=ProjectConfig())

    message = str(info.value)
    assert "orders.csv" in message and "'ordered_at'" in message
    assert "'order_id', 'customer_id', 'amount'" in message
    assert info.value.context == {"file": "orders.csv", "field": "ordered_at"}
    assert warehouse.table("orders").count().execute() == 0


@pytest.mark.parametrize("table", sorted(TABLES))
def test_no_builtin_header_synonym_means_two_columns_of_one_table(table):
    seen: dict[str, str] = {normalize_label(c): c for c in TABLES[table].column_names}
    for column, spellings in HEADER_SYNONYMS[table].items():
        assert column in TABLES[table].column_names
        for spelling in spellings:
            assert seen.setdefault(normalize_label(spelling), column) == column, spelling


@pytest.mark.parametrize("column", sorted(VALUE_SYNONYMS))
def test_value_synonyms_map_onto_allowed_values_only(column):
    allowed = {c.name: c.allowed for t in TABLES.values() for c in t.columns if c.allowed}
    assert set(value_lookup(column).values()) == set(allowed[column])
    seen: dict[str, str] = {}
    for value, spellings in VALUE_SYNONYMS[column].items():
        for spelling in (value, *spellings):
            assert seen.setdefault(normalize_label(spelling), value) == value, spelling
