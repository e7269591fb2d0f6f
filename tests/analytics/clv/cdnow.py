"""The real CDNOW data shipped inside the lifetimes wheel (test-only dependency).

Import from test modules here as ``from cdnow import ...`` (pytest puts this folder on the path).
"""

from __future__ import annotations

import datetime as dt
import io
from importlib import resources

import pandas as pd
import pytest

from clm.analytics.clv import calibration_holdout_summary
from clm.warehouse import Warehouse

CALIBRATION_END = dt.date(1997, 9, 30)
HOLDOUT_END = dt.date(1998, 6, 30)


def _text(name: str) -> str:
    pytest.importorskip("lifetimes")
    return (resources.files("lifetimes") / "datasets" / name).read_text()


def cdnow_orders(name: str = "CDNOW_sample.txt") -> pd.DataFrame:
    """CDNOW transactions as canonical orders (customer_id, ordered_at, amount, status)."""
    if name == "CDNOW_sample.txt":
        cols = ["master_id", "customer_id", "date", "cds", "amount"]
        raw = pd.read_csv(io.StringIO(_text(name)), sep=r"\s+", header=None, names=cols,
                          dtype={"date": str, "customer_id": str})
    else:
        cols = ["customer_id", "date", "cds", "amount"]
        raw = pd.read_csv(io.StringIO(_text(name)), sep=r"\s+", header=0, names=cols,
                          dtype={"date": str, "customer_id": str})
    return pd.DataFrame({
        "customer_id": raw["customer_id"],
        "ordered_at": pd.to_datetime(raw["date"], format="%Y%m%d"),
        "amount": raw["amount"].astype(float),
        "status": "paid",
    })


def summarize(orders: pd.DataFrame, time_unit: str = "week") -> pd.DataFrame:
    wh = Warehouse.in_memory()
    table = wh.create("orders", orders)
    expr = calibration_holdout_summary(table, calibration_end=CALIBRATION_END,
                                       holdout_end=HOLDOUT_END, time_unit=time_unit)
    return expr.to_pyarrow().to_pandas()


def rft(summary: pd.DataFrame) -> tuple:
    return summary["frequency"], summary["recency"], summary["T"]
