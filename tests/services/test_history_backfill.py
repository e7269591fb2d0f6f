"""A backfill that carries features and stages forward writes the history of one date at a time.

``StageHistory.backfill`` continues each date from the one before (cumulative feature state,
previous stages, reasons built for movers only). ``StageHistory.evaluate`` computes a date from
scratch and reads the stages before it back from the stored transitions. Both must write the
very same transitions, reasons included.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from clm.analytics.rules import load_model
from clm.config import ProjectConfig
from clm.datasets.demo import generate_demo, write_demo
from clm.ingest import import_folder
from clm.services.history import StageHistory, step_dates
from clm.warehouse import Warehouse

DATES = step_dates(dt.date(2024, 12, 1), dt.date(2025, 10, 31), "month")
COLUMNS = ["customer_id", "from_stage", "to_stage", "changed_on", "reasons", "grey_zone"]


@pytest.fixture(scope="module")
def wh(tmp_path_factory) -> Warehouse:
    folder = tmp_path_factory.mktemp("demo-backfill")
    write_demo(generate_demo(customers=300, seed=9), folder)
    warehouse = Warehouse.in_memory()
    import_folder(folder, warehouse=warehouse, config=ProjectConfig())
    return warehouse


def _history(wh: Warehouse, name: str) -> StageHistory:
    model = load_model("default")
    return StageHistory(wh, model=model, table=f"tr_{name}", runs_table=f"ru_{name}")


def _rows(history: StageHistory) -> pd.DataFrame:
    df = history.transitions().execute()[COLUMNS]
    return df.sort_values(["customer_id", "changed_on"]).reset_index(drop=True)


def _one_by_one(wh: Warehouse, name: str, dates) -> StageHistory:
    history = _history(wh, name)
    for d in dates:
        history.evaluate(d, replay=False, frame=False)
    return history


def test_carried_backfill_writes_what_evaluating_each_date_writes(wh):
    carried = _history(wh, "carried")
    evaluations = carried.backfill(DATES)
    reference = _one_by_one(wh, "reference", DATES)
    got, want = _rows(carried), _rows(reference)
    assert len(want) > 300  # every customer's first stage plus the moves of 11 months
    assert want.changed_on.nunique() > 6
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert [e.transitions for e in evaluations] == [
        int((want.changed_on == pd.Timestamp(d)).sum()) for d in DATES
    ]
    # running the same backfill again writes nothing
    again = carried.backfill(DATES)
    assert not any(e.written for e in again)
    pd.testing.assert_frame_equal(_rows(carried), want, check_exact=True)


def test_a_backfill_over_a_changed_history_replaces_only_the_dates_that_differ(wh):
    """The DuckDB backfill holds its writes back until the last date (``_Deferred``): a date
    whose stored transitions differ is deleted and rewritten then, the others left alone."""
    history = _history(wh, "repaired")
    history.backfill(DATES)
    want = _rows(history)
    tampered = DATES[4]
    wh.con.raw_sql(
        f"UPDATE tr_repaired SET reasons = 'tampered' WHERE changed_on = DATE '{tampered}'"
    )
    again = history.backfill(DATES)
    assert [e.as_of for e in again if e.written] == [tampered]
    pd.testing.assert_frame_equal(_rows(history), want, check_exact=True)


def test_a_date_evaluated_in_between_is_read_back_not_skipped(wh):
    """Stages carried from the previous backfill date would miss a move stored in between."""
    history = _history(wh, "between")
    middle = dt.date(2025, 2, 14)
    coarse = [d for d in DATES if d.month in (1, 4, 7)]
    history.evaluate(middle, replay=False, frame=False)
    history.backfill(coarse)
    reference = _one_by_one(wh, "between_ref", [middle, *coarse])  # what the backfill did
    pd.testing.assert_frame_equal(_rows(history), _rows(reference), check_exact=True)


def test_the_step_by_step_backfill_writes_what_the_compiled_one_writes(wh, monkeypatch):
    """Backends other than DuckDB, and models reading value features, evaluate date by date
    with Ibis expressions instead of the SQL compiled ahead; both must write the same."""
    compiled = _history(wh, "compiled")
    compiled.backfill(DATES)
    monkeypatch.setattr(StageHistory, "_compiles_ahead", lambda self: False)
    stepwise = _history(wh, "stepwise")
    stepwise.backfill(DATES)
    pd.testing.assert_frame_equal(_rows(stepwise), _rows(compiled), check_exact=True)


def _temp_tables(wh: Warehouse) -> list[str]:
    rows = wh.con.raw_sql("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    return [r[0] for r in rows]


def test_an_interrupted_backfill_stores_nothing_and_leaves_no_scratch_tables(wh):
    history = _history(wh, "interrupted")
    before = _temp_tables(wh)

    def stop_at_third(done: int, total: int, day: dt.date) -> None:
        if done == 3:
            raise KeyboardInterrupt  # what Ctrl-C raises in the middle of a long backfill

    with pytest.raises(KeyboardInterrupt):
        history.backfill(DATES, progress=stop_at_third)
    assert history.transitions().count().execute() == 0
    assert history.evaluated_dates() == []
    assert _temp_tables(wh) == before
    # the same backfill then runs in full
    assert len(history.backfill(DATES)) == len(DATES)
    assert history.evaluated_dates() == DATES


def test_a_statement_failing_mid_backfill_is_the_error_reported_and_nothing_is_stored(wh):
    """A failed statement aborts DuckDB's transaction; the clean-up after it must not replace
    the failure with one of its own."""
    history = _history(wh, "failing")

    def fail_at_second(done: int, total: int, day: dt.date) -> None:
        if done == 2:
            wh.con.raw_sql("SELECT CAST('clm-not-a-number' AS INTEGER)")  # fails as it runs

    with pytest.raises(Exception, match="clm-not-a-number"):
        history.backfill(DATES, progress=fail_at_second)
    assert history.transitions().count().execute() == 0
    assert history.evaluated_dates() == []
    assert not [t for t in _temp_tables(wh) if t.startswith("clm_step_")]
