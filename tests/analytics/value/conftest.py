"""Fixtures of the value tests: hand-built tables and a random data set cut at an as-of date."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from clm.warehouse import Warehouse

# the shared table factories live one folder up (tests/analytics/factories.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import factories


@pytest.fixture
def tables(warehouse):
    """``tables(customers=..., orders=...)`` loads hand-built rows and returns Ibis tables."""

    def build(**rows):
        return factories.load(warehouse, **rows)

    return build


@pytest.fixture(scope="module")
def pit_tables():
    """(all rows, rows cut at 2024-06-15) of one random data set, in two warehouses.

    Orders placed after 2024-06-15 exist only in the first, so any value metric as of that
    date must come out the same from both.
    """
    data = factories.random_tables(300, seed=7, orders_per_customer=6, events_per_customer=0,
                                   interactions_per_customer=0)
    orders = data["orders"]
    cutoff = pa.scalar(dt.datetime(2024, 6, 16), pa.timestamp("us"))
    cut = {**data, "orders": orders.filter(pc.less(orders["ordered_at"], cutoff))}
    assert cut["orders"].num_rows < orders.num_rows
    full = factories.load_arrow(Warehouse.in_memory(), data)
    return full, factories.load_arrow(Warehouse.in_memory(), cut)
