"""The stage assignment gives the same stages, dates, grey zones and reason texts on PostgreSQL
and Spark as on DuckDB (boundary customers, customers with history, awkward numbers)."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest
from rule_helpers import AS_OF, customer, feature_table
from test_assign import HISTORY
from test_default_model import CASES

from clm.analytics.rules import assign_stages, evaluate_expression, load_model
from clm.analytics.rules.compiler import Compiler
from clm.analytics.rules.parser import parse_expression

AWKWARD = [
    customer(arpu_percentile=0.123456, aov_change_vs_first=1.0, usage_change_pct=-0.00005),
    customer(arpu_percentile=0.99995, aov_change_vs_first=-2.5, usage_change_pct=1234567.125),
    customer(arpu_percentile=None, aov_change_vs_first=0.1, usage_change_pct=0.0001),
]
FORMATTED = "arpu_percentile * 100 + aov_change_vs_first / 3"


def _stages_expression():
    rows = [c[1] for c in CASES] + [h[1] for h in HISTORY]
    ids = [f"c{i:03d}" for i in range(len(rows))]
    previous = pd.DataFrame(
        [(f"c{len(CASES) + i:03d}", *h[2]) for i, h in enumerate(HISTORY)],
        columns=["customer_id", "stage", "stage_since", "previous_stage"],
    )
    prev = ibis.memtable(
        previous,
        schema={
            "customer_id": "string",
            "stage": "string",
            "stage_since": "date",
            "previous_stage": "string",
        },
    )
    features = feature_table(rows, ids, spark_safe=True)
    return assign_stages(features, model=load_model("default"), as_of=AS_OF, previous=prev)


def _values_expression():
    table = feature_table(AWKWARD, spark_safe=True)
    node = parse_expression(FORMATTED, expect="number")
    return table.select(
        "customer_id",
        text=Compiler(table).formatted(node),
        flag=evaluate_expression(
            "coalesce(arpu_percentile, 0) >= 0.5 or usage_change_pct > 1", table
        ),
    )


def _rows(con, expr) -> list[dict]:
    frame = con.to_pandas(expr).sort_values("customer_id").reset_index(drop=True)
    out = []
    for record in frame.to_dict("records"):
        out.append(
            {
                k: (
                    None
                    if v is None or v is pd.NaT or (isinstance(v, float) and v != v)
                    else str(v)[:10]
                    if k == "stage_since"
                    else v
                )
                for k, v in record.items()
            }
        )
    return out


def _same_as_duckdb(con) -> None:
    duck = ibis.duckdb.connect()
    for build in (_stages_expression, _values_expression):
        expr = build()
        assert _rows(con, expr) == _rows(duck, expr)


@pytest.mark.postgres
def test_postgres_assigns_what_duckdb_assigns(pg_warehouse):
    _same_as_duckdb(pg_warehouse.con)


@pytest.mark.spark
def test_spark_assigns_what_duckdb_assigns(spark_backend):
    _same_as_duckdb(spark_backend)
