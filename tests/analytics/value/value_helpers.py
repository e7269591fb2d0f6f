"""Helpers of the value tests: result comparison and the extra tables value metrics read."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pandas.testing as pdt
import pyarrow as pa

from clm.warehouse import Warehouse

PIT_AS_OF = dt.date(2024, 6, 15)  # the cut of the pit_tables fixture


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
