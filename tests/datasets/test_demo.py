"""The demo company keeps the data contract, is reproducible, and writes the four CSV files."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest

from clm.datasets import generate_demo, write_demo
from clm.datasets.people import EMAIL_DOMAINS, OWNERS
from clm.domain.contract import TABLES
from clm.errors import DataFileError, InputError


@pytest.fixture(scope="module")
def small():
    return generate_demo(customers=300, seed=3)


def test_same_seed_gives_identical_tables(small):
    again = generate_demo(customers=300, seed=3)
    for name, frame in small.tables().items():
        pd.testing.assert_frame_equal(frame, again.tables()[name], obj=name)
    assert again.archetypes == small.archetypes
    pd.testing.assert_frame_equal(again.bad_rows, small.bad_rows)


def test_another_seed_gives_other_data(small):
    other = generate_demo(customers=300, seed=4)
    assert not other.orders.equals(small.orders)
    assert not other.customers.equals(small.customers)


def test_same_seed_writes_byte_identical_files(tmp_path, small):
    first = write_demo(small, tmp_path / "a")
    second = write_demo(generate_demo(customers=300, seed=3), tmp_path / "b")
    for name in TABLES:
        assert first[name].read_bytes() == second[name].read_bytes(), name


@pytest.mark.parametrize("table", sorted(TABLES))
def test_tables_have_exactly_the_contract_columns(demo, table):
    assert list(demo.tables()[table].columns) == TABLES[table].column_names


@pytest.mark.parametrize("table", sorted(TABLES))
def test_closed_vocabularies_hold_only_allowed_values(demo, table):
    frame = demo.tables()[table]
    for column in TABLES[table].columns:
        if column.allowed:
            assert set(frame[column.name].dropna()) <= set(column.allowed), column.name


@pytest.mark.parametrize("table", sorted(TABLES))
def test_required_columns_are_never_empty(demo, table):
    frame = demo.tables()[table]
    for name in TABLES[table].required:
        assert frame[name].notna().all(), name


def test_every_allowed_event_and_interaction_type_occurs(demo):
    assert set(demo.events["event_type"]) == set(TABLES["events"].column("event_type").allowed)
    kinds = set(demo.interactions["interaction_type"])
    assert kinds == set(TABLES["interactions"].column("interaction_type").allowed)
    assert set(demo.orders["status"]) == set(TABLES["orders"].column("status").allowed)


def test_type_specific_fields_are_filled_only_where_they_belong(demo):
    events = demo.events
    assert (events["feature"].notna() == (events["event_type"] == "feature_used")).all()
    inter = demo.clean("interactions")
    scored = inter["interaction_type"].isin(["satisfaction", "nps"])
    assert (inter["score"].notna() == scored).all()
    assert inter["score"].dropna().between(0, 10).all()
    referral = inter["interaction_type"] == "referral"
    assert (inter["referred_customer_id"].notna() == referral).all()


def test_natural_keys_are_unique(demo):
    assert demo.customers["customer_id"].is_unique
    for name in ("events", "interactions"):
        key = list(TABLES[name].key)
        assert not demo.tables()[name].duplicated(subset=key).any(), name


def test_rows_reference_known_customers_except_the_documented_bad_rows(demo):
    known = set(demo.customers["customer_id"])
    for name in ("events", "interactions"):
        assert set(demo.tables()[name]["customer_id"]) <= known, name
    unknown = demo.orders.loc[~demo.orders["customer_id"].isin(known), "order_id"]
    documented = demo.bad_rows.loc[demo.bad_rows["kind"] == "unknown_customer", "order_id"]
    assert sorted(unknown) == sorted(documented)


def test_every_customer_has_an_archetype(demo):
    assert set(demo.archetypes) == set(demo.customers["customer_id"])
    assert set(demo.expected_stages.values()) == {
        "prospect", "new", "growing", "mature", "declining", "churned"}


def test_contacts_look_like_mainland_mobiles_and_reserved_example_mail(demo):
    phones = demo.customers["phone"].dropna()
    assert phones.str.fullmatch(r"1[3-9]\d{9}").all()
    assert phones.str.startswith("138").any()
    domains = demo.customers["email"].dropna().str.split("@").str[1]
    assert set(domains) <= set(EMAIL_DOMAINS)
    assert demo.customers["phone"].isna().any() and demo.customers["email"].isna().any()


def test_names_mix_chinese_and_english_and_owners_are_a_handful_of_reps(demo):
    names = demo.customers["name"]
    chinese = names.str.contains(r"[\u4e00-\u9fff]", regex=True)
    assert 0.3 <= chinese.mean() <= 0.8
    assert set(demo.customers["owner"]) == set(OWNERS)
    assert any(re.search(r"[\u4e00-\u9fff]", o) for o in OWNERS)
    assert any(o.isascii() for o in OWNERS)


def test_write_demo_writes_utf8_csv_files_that_read_back_identically(tmp_path, small):
    paths = write_demo(small, tmp_path / "out")
    assert sorted(paths) == sorted(TABLES)
    for name, path in paths.items():
        assert path.name == f"{name}.csv"
        text = path.read_text(encoding="utf-8")
        assert text.splitlines()[0] == ",".join(TABLES[name].column_names)
        back = pd.read_csv(path, dtype="str", keep_default_na=False, na_values=[""])
        pd.testing.assert_frame_equal(back, small.tables()[name], check_dtype=False, obj=name)


def test_write_demo_into_a_file_path_names_the_folder(tmp_path, small):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        write_demo(small, blocker)
    assert info.value.context["file"] == str(blocker)


def test_too_few_customers_is_refused_naming_the_option():
    with pytest.raises(InputError) as info:
        generate_demo(customers=10)
    assert info.value.context["field"] == "customers"


def test_a_range_shorter_than_a_year_is_refused():
    with pytest.raises(InputError) as info:
        generate_demo(customers=100, start=date(2025, 1, 1), end=date(2025, 6, 30))
    assert info.value.context["field"] == "end"


def test_other_dates_shift_the_whole_story():
    shifted = generate_demo(customers=200, start=date(2022, 7, 1), end=date(2023, 6, 30))
    stamps = shifted.clean("orders")["ordered_at"]
    assert stamps.min() >= pd.Timestamp("2022-07-01")
    assert stamps.max() < pd.Timestamp("2023-07-01")
