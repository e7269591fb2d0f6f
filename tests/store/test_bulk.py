"""Bulk writes and reads give the same rows and the same canonical text on both backends."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Boolean, Date, Integer, String, select

from clm.store.bulk import canonical, drop_staged, insert_frame, read_frame, stage_frame
from clm.store.tables import Customer, CustomerStage


def _customers():
    return pd.DataFrame({
        "id": ["a", "b", "c"],
        "name": ["张三", "O'Brien, \"Pat\"", ""],
        "phone": ["13812348888", None, "line\nbreak"],
        "signup_date": [dt.date(2024, 1, 2), None, "2024-03-04"],
        "erased": [False, True, False],
    })


def test_inserted_rows_read_back_through_the_orm(store):
    with store.session() as s, s.begin():
        assert insert_frame(s, Customer.__table__, _customers()) == 3
    with store.session() as s:
        rows = {c.id: c for c in s.scalars(select(Customer))}
    assert rows["a"].name == "张三" and rows["a"].signup_date == dt.date(2024, 1, 2)
    assert rows["b"].name == "O'Brien, \"Pat\"" and rows["b"].erased is True
    assert rows["c"].name is None  # empty text is stored as NULL
    assert rows["c"].phone == "line\nbreak"
    assert rows["c"].signup_date == dt.date(2024, 3, 4)


def test_read_frame_is_canonically_equal_on_both_backends(store):
    with store.session() as s, s.begin():
        insert_frame(s, Customer.__table__, _customers())
        insert_frame(s, CustomerStage.__table__, pd.DataFrame({
            "customer_id": ["a"], "stage": ["new"], "stage_since": ["2024-02-01"],
            "grey_zone": [True], "model_version": ["m"], "run_id": ["r"],
            "synced_on": [dt.date(2024, 3, 1)],
        }))
    with store.session() as s:
        frame = read_frame(s, select(Customer.id, Customer.signup_date, Customer.erased)
                           .order_by(Customer.id))
        stage = read_frame(s, select(CustomerStage.grey_zone, CustomerStage.stage_since))
    assert canonical(frame["signup_date"], "date").tolist() == ["2024-01-02", "", "2024-03-04"]
    assert canonical(frame["erased"], "bool").tolist() == ["0", "1", "0"]
    assert canonical(stage["grey_zone"], "bool").tolist() == ["1"]
    assert canonical(stage["stage_since"], "date").tolist() == ["2024-02-01"]


def test_read_frame_of_an_empty_result_has_the_columns(store):
    with store.session() as s:
        frame = read_frame(s, select(Customer.id, Customer.name))
    assert list(frame.columns) == ["id", "name"] and frame.empty


def test_staged_frames_join_and_disappear(store):
    types = {"id": String(), "n": Integer(), "d": Date(), "b": Boolean()}
    data = pd.DataFrame({"id": ["x", "y"], "n": [1, None], "d": ["2024-01-01", None],
                         "b": [True, False]})
    with store.session() as s, s.begin():
        staged = stage_frame(s, data, types)
        got = s.execute(select(staged.c.id, staged.c.n, staged.c.d, staged.c.b)
                        .order_by(staged.c.id)).all()
        drop_staged(s, staged)
    assert got[0] == ("x", 1, dt.date(2024, 1, 1), True)
    assert got[1][1] is None and got[1][2] is None and got[1][3] is False


def test_canonical_text_treats_null_and_empty_alike():
    assert canonical(pd.Series([None, "", "a"]), "text").tolist() == ["", "", "a"]
    assert canonical(pd.Series([3, "4", None]), "int").tolist() == ["3", "4", ""]
    assert canonical(pd.Series(["t", "f", 1, 0, True]), "bool").tolist() == list("10101")
