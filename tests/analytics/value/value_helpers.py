"""Helpers of the value tests: result comparison and the extra tables value metrics read."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pandas.testing as pdt
import pyarrow as pa

from clm.warehouse import Warehouse

PIT_AS_OF = dt.date(2024, 6, 15)  # the cut of the pit_tables fixture

# a hand-built stage history (customer, from, to, changed on); test_stage_history works it out
HISTORY = [
    ("c1", None, "new", "2024-01-01"), ("c1", "new", "growing", "2024-01-20"),
    ("c1", "growing", "mature", "2024-03-01"),
    ("c2", None, "new", "2024-01-05"), ("c2", "new", "declining", "2024-02-04"),
    ("c2", "declining", "churned", "2024-03-05"),
    ("c3", None, "new", "2024-02-10"),
    ("c4", None, "new", "2024-01-10"), ("c4", "new", "growing", "2024-02-15"),
    ("c4", "growing", "declining", "2024-02-20"),
    ("c5", None, "new", "2024-04-02"),  # after every date the tests use
]


def frame_equal(left: pd.DataFrame, right: pd.DataFrame, *, sort_by: list[str]) -> None:
    """Assert two result frames hold the same rows, whatever order the engine returned."""
    a = left.sort_values(sort_by).reset_index(drop=True)
    b = right.sort_values(sort_by).reset_index(drop=True)
    pdt.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-9)


def spend_table(warehouse: Warehouse, rows: list[tuple], *, month_type=None):
    """A marketing_spend table (channel, month, amount) in ``warehouse``."""
    channel, month, amount = (list(col) for col in zip(*rows, strict=True))
    table = pa.table({"channel": pa.array(channel, pa.string()),
                      "month": pa.array(month, month_type or pa.string()),
                      "amount": pa.array(amount, pa.float64())})
    return warehouse.create("marketing_spend", table, overwrite=True)


def history_table(warehouse: Warehouse, rows: list[tuple]):
    """A stage history (customer_id, from_stage, to_stage, changed_on ISO date) in ``warehouse``."""
    cid, src, dst, on = (list(col) for col in zip(*rows, strict=True))
    table = pa.table({"customer_id": pa.array(cid, pa.string()),
                      "from_stage": pa.array(src, pa.string()),
                      "to_stage": pa.array(dst, pa.string()),
                      "changed_on": pa.array([dt.date.fromisoformat(d) for d in on], pa.date32())})
    return warehouse.create("stage_history", table, overwrite=True)
