"""The flawed order rows are exactly those documented, and each looks the way the docs say."""

from __future__ import annotations

import pandas as pd
import pytest

from clm.datasets import bad_rows as flaws
from clm.datasets import write_demo


def test_each_kind_appears_the_documented_number_of_times(demo):
    bad = demo.bad_rows
    extra = (bad["expected"] != "accept").sum()
    k = flaws.per_kind(len(demo.orders) - extra)
    assert bad["kind"].value_counts().to_dict() == {kind: k for kind, _, _ in flaws.KINDS}
    assert 0.004 <= len(bad) / len(demo.orders) <= 0.006


def test_kind_field_and_expectation_match_the_documented_table(demo):
    table = {kind: (field, expected) for kind, field, expected in flaws.KINDS}
    for row in demo.bad_rows.itertuples():
        assert (row.field, row.expected) == table[row.kind]
        assert row.table == "orders"


def test_listed_lines_of_orders_csv_hold_the_listed_values(demo, tmp_path):
    path = write_demo(demo, tmp_path)["orders"]
    text = pd.read_csv(path, dtype="str", keep_default_na=False)
    for row in demo.bad_rows.itertuples():
        line = text.iloc[row.line - 2]
        assert line[row.field] == row.value, row
        assert line["order_id"] == row.order_id, row


@pytest.mark.parametrize("kind,pattern", [
    ("negative_amount", r"-\d+\.\d{2}"),
    ("impossible_date", r"\d{4}-02-30 \d{2}:\d{2}:\d{2}"),
    ("currency_amount", r"¥\d{1,3}(,\d{3})+\.\d{2}"),
    ("slash_date", r"\d{4}/\d{1,2}/\d{1,2}"),
])
def test_flawed_values_are_written_the_documented_way(demo, kind, pattern):
    values = demo.bad_rows.loc[demo.bad_rows["kind"] == kind, "value"]
    assert values.str.fullmatch(pattern).all()


def test_duplicates_are_exact_copies_of_an_existing_row(demo):
    ids = demo.bad_rows.loc[demo.bad_rows["kind"] == "duplicate_order_id", "order_id"]
    rows = demo.orders[demo.orders["order_id"].isin(ids)]
    assert len(rows) == 2 * len(ids)
    assert rows.duplicated(keep=False).all()
    assert demo.orders["order_id"].duplicated().sum() == len(ids)


def test_unknown_customers_are_absent_from_customers(demo):
    ids = demo.bad_rows.loc[demo.bad_rows["kind"] == "unknown_customer", "value"]
    assert not ids.isin(demo.customers["customer_id"]).any()


def test_clean_orders_resolve_every_flaw(demo):
    clean = demo.clean("orders")
    assert clean["order_id"].is_unique
    assert (clean["amount"] >= 0).all()
    assert clean["ordered_at"].notna().all()
    assert clean["customer_id"].isin(demo.customers["customer_id"]).all()
    kept = demo.bad_rows[demo.bad_rows["expected"] == "accept"]
    assert kept["order_id"].isin(clean["order_id"]).all()
    assert len(clean) == len(demo.orders) - (demo.bad_rows["expected"] != "accept").sum()


def test_lenient_values_keep_their_meaning(demo):
    clean = demo.clean("orders").set_index("order_id")
    for row in demo.bad_rows[demo.bad_rows["kind"] == "currency_amount"].itertuples():
        assert clean.at[row.order_id, "amount"] == float(row.value[1:].replace(",", ""))
    for row in demo.bad_rows[demo.bad_rows["kind"] == "slash_date"].itertuples():
        y, m, d = (int(p) for p in row.value.split("/"))
        assert clean.at[row.order_id, "ordered_at"] == pd.Timestamp(y, m, d)


def test_a_tiny_orders_table_still_gets_one_row_of_each_kind():
    assert flaws.per_kind(10) == 1
    assert flaws.per_kind(12_000) == 10
