import datetime as dt
import math

import pandas as pd
import pytest
from value_helpers import HISTORY, frame_equal, history_table

from clm.analytics.value.stage_history import (
    stage_churn_rate,
    stages_on,
    time_in_stage,
    transition_matrix,
)
from clm.errors import DataFileError, InputError

FEB = {"start": dt.date(2024, 2, 1), "end": dt.date(2024, 2, 29)}


@pytest.fixture
def history(warehouse):
    return history_table(warehouse, HISTORY)


def _cells(frame):
    """Rows by (from_stage, to_stage); an empty from_stage (NaN in pandas) becomes None."""
    return {(r["from_stage"] if isinstance(r["from_stage"], str) else None, r["to_stage"]): r
            for r in frame.to_dict("records")}


def test_moves_count_the_changes_dated_in_the_period(history):
    got = _cells(transition_matrix(history, **FEB).execute())
    assert set(got) == {("new", "declining"), ("new", "growing"), (None, "new"),
                        ("growing", "declining")}
    assert all((r["customers"], r["transitions"]) == (1, 1) for r in got.values())
    assert got["new", "declining"]["share"] == 0.5
    assert got["growing", "declining"]["share"] == 1.0


def test_migration_compares_the_stage_before_start_with_the_stage_at_end(history):
    got = _cells(transition_matrix(history, **FEB, kind="migration").execute())
    assert {k: r["customers"] for k, r in got.items()} == {
        ("growing", "growing"): 1,      # c1 stayed
        ("new", "declining"): 2,        # c2 and c4 (c4 via growing)
        (None, "new"): 1,               # c3 had no stage on 31 January
    }
    assert got["new", "declining"]["share"] == 1.0


def test_stage_on_a_day_is_the_latest_change_up_to_it(history):
    got = stages_on(history, day=dt.date(2024, 2, 20)).execute().set_index("customer_id")
    assert got["stage"].to_dict() == {"c1": "growing", "c2": "declining", "c3": "new",
                                      "c4": "declining"}
    assert got.loc["c1", "stage_since"].date() == dt.date(2024, 1, 20)


def test_time_in_stage_averages_completed_stays_and_counts_open_ones(history):
    got = time_in_stage(history, as_of=dt.date(2024, 3, 31)).execute().set_index("stage")
    assert got.loc["new", "completed_stays"] == 3           # 19, 30 and 36 days
    assert got.loc["new", "mean_days"] == pytest.approx((19 + 30 + 36) / 3)
    assert got.loc["new", "median_days"] == 30
    assert got.loc["new", "open_stays"] == 1                # c3, 50 days so far
    assert got.loc["new", "mean_open_days"] == 50
    assert got.loc["growing", "median_days"] == 23          # 41 and 5
    assert got.loc["growing", "open_stays"] == 0
    assert math.isnan(got.loc["growing", "mean_open_days"])
    assert got.loc["mature", "completed_stays"] == 0
    assert math.isnan(got.loc["mature", "mean_days"])
    assert got.loc["churned", "mean_open_days"] == 26


def test_time_in_stage_ignores_changes_after_as_of(history):
    got = time_in_stage(history, as_of=dt.date(2024, 2, 16)).execute().set_index("stage")
    # c4's move to declining (20 Feb) has not happened: its growing stay is open, 1 day long
    assert got.loc["growing", "completed_stays"] == 0
    assert got.loc["growing", "open_stays"] == 2
    assert got.loc["growing", "mean_open_days"] == pytest.approx((27 + 1) / 2)
    assert "mature" not in got.index


def test_stage_churn_rate_is_moves_into_churned_over_customers_not_churned_before(history):
    months = [(dt.date(2024, 2, 1), dt.date(2024, 2, 29)), (dt.date(2024, 3, 1),
                                                             dt.date(2024, 3, 31))]
    got = stage_churn_rate(history, months=months).execute().set_index("period_start")
    assert got.loc[pd.Timestamp(2024, 3, 1), ["at_risk", "churned"]].tolist() == [4, 1]
    assert got.loc[pd.Timestamp(2024, 3, 1), "churn_rate"] == 0.25
    assert got.loc[pd.Timestamp(2024, 2, 1), ["at_risk", "churned"]].tolist() == [3, 0]


def test_bad_history_and_periods_are_refused(history):
    with pytest.raises(DataFileError, match="'to_stage'"):
        time_in_stage(history.drop("to_stage"), as_of=dt.date(2024, 3, 1))
    with pytest.raises(InputError, match="before start"):
        transition_matrix(history, start=dt.date(2024, 3, 1), end=dt.date(2024, 2, 1))
    with pytest.raises(InputError, match="kind"):
        transition_matrix(history, **FEB, kind="sideways")


@pytest.mark.postgres
def test_postgres_gives_the_same_stage_statistics_as_duckdb(history, pg_warehouse):
    pg = history_table(pg_warehouse, HISTORY)
    as_of = dt.date(2024, 3, 31)
    frame_equal(time_in_stage(history, as_of=as_of).execute(),
                time_in_stage(pg, as_of=as_of).execute(), sort_by=["stage"])
    for kind in ("moves", "migration"):
        a = transition_matrix(history, **FEB, kind=kind).execute()
        b = transition_matrix(pg, **FEB, kind=kind).execute()
        frame_equal(a, b, sort_by=["from_stage", "to_stage"])
