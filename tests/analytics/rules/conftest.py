"""Fixtures of the rule tests: a DuckDB connection, the default model, and ``run`` (assign
stages to hand-built feature rows and read the result back in input order)."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest
from rule_helpers import AS_OF, feature_table

from clm.analytics.rules import assign_stages, load_model


@pytest.fixture(scope="session")
def con():
    return ibis.duckdb.connect()


@pytest.fixture(scope="session")
def default_model():
    return load_model("default")


@pytest.fixture(scope="session")
def run(con, default_model):
    """Assign stages to rows and return the result as a list of dicts, in input order."""

    def _run(rows, *, model=None, as_of=AS_OF, previous=None, ids=None) -> list[dict]:
        ids = ids or [f"c{i}" for i in range(len(rows))]
        prev = None
        if previous is not None:
            prev = ibis.memtable(
                pd.DataFrame(
                    previous, columns=["customer_id", "stage", "stage_since", "previous_stage"]
                ),
                schema={
                    "customer_id": "string",
                    "stage": "string",
                    "stage_since": "date",
                    "previous_stage": "string",
                },
            )
        out = assign_stages(
            feature_table(rows, ids), model=model or default_model, as_of=as_of, previous=prev
        )
        frame = con.to_pyarrow(out).to_pylist()
        order = {cid: i for i, cid in enumerate(ids)}
        return sorted(frame, key=lambda r: order[r["customer_id"]])

    return _run
