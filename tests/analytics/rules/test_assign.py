"""Stage assignment with history: minimum stay, margin (no flapping), stickiness, fallback,
grey zones, reasons, and the purity of the whole thing."""

from __future__ import annotations

from datetime import date, timedelta
from importlib import resources

import ibis
import pytest
from rule_helpers import AS_OF, LEAD, NEUTRAL, customer, feature_table

from clm.analytics.rules import OUTPUT_COLUMNS, assign_stages, load_model, parse_model
from clm.errors import InputError

LONG_AGO = date(2024, 1, 1)
DEFAULT_TEXT = resources.files("clm").joinpath("resources/models/default.yaml").read_text("utf-8")

# (what, features, previous stage, stage_since, previous_stage) -> (stage, stage_since, reasons)
HISTORY = [
    (
        "min stay holds a new customer who closed the account 3 days in",
        customer(account_closed=True, order_count=1, days_since_first_order=3),
        ("new", AS_OF - timedelta(days=3), "prospect"),
        ("new", AS_OF - timedelta(days=3), "prospect", False),
        "days_since_first_order = 3 <= 30; min_stay: 3 days in new < 7 (would move to churned)",
    ),
    (
        "after the min stay the move happens",
        customer(account_closed=True, order_count=1, days_since_first_order=7),
        ("new", AS_OF - timedelta(days=7), "prospect"),
        ("churned", AS_OF, "new", True),
        "account_closed = true",
    ),
    (
        "a failed guard ends the min stay: a prospect who buys is new at once",
        customer(
            LEAD,
            order_count=1,
            days_since_first_order=0,
            days_since_last_order=0,
            orders_30d=1,
            orders_90d=1,
        ),
        ("prospect", AS_OF - timedelta(days=1), None),
        ("new", AS_OF, "prospect", True),
        "days_since_first_order = 0 <= 30",
    ),
    (
        "the margin keeps a churned customer at 85 days",
        customer(days_since_last_order=85),
        ("churned", LONG_AGO, "declining"),
        ("churned", LONG_AGO, "declining", False),
        "days_since_last_order = 85 > 81 (margin on 90)",
    ),
    (
        "below the margin a churned customer leaves",
        customer(days_since_last_order=80),
        ("churned", LONG_AGO, "declining"),
        ("declining", AS_OF, "churned", True),
        "days_since_last_order = 80 >= 60",
    ),
    (
        "a sticky stage is kept when nothing holds",
        customer(order_count=1, days_since_first_order=45, days_since_last_order=45),
        ("new", LONG_AGO, "prospect"),
        ("new", LONG_AGO, "prospect", False),
        "kept: no stage's criteria held",
    ),
    (
        "a non-sticky stage falls back when its signal is gone (declining -> growing)",
        customer(),
        ("declining", LONG_AGO, "growing"),
        ("growing", AS_OF, "declining", True),
        "fallback",
    ),
    (
        "a churned customer who comes back is new again",
        customer(order_count=6, orders_30d=1, orders_90d=1, days_since_last_order=3),
        ("churned", LONG_AGO, "declining"),
        ("new", AS_OF, "churned", True),
        "orders_30d = 1 >= 1; orders_90d = 1 == orders_30d (1); order_count = 6 > orders_30d (1)",
    ),
    (
        "a candidate of higher precedence takes over a stage that still holds",
        customer(aov_change_vs_first=0.25, arpu_percentile=0.85),
        ("growing", LONG_AGO, "new"),
        ("mature", AS_OF, "growing", True),
        "arpu_percentile = 0.85 >= 80%",
    ),
    (
        "a candidate of lower precedence does not take over a stage held within the margin",
        customer(arpu_percentile=0.75, repurchases_30d=2, orders_30d=2, orders_90d=3),
        ("mature", LONG_AGO, "growing"),
        ("mature", LONG_AGO, "growing", False),
        "arpu_percentile = 0.75 >= 0.72 (margin on 80%)",
    ),
    (
        "a previous stage the model does not know is a first run",
        customer(),
        ("vip", AS_OF - timedelta(days=1), "new"),
        ("growing", AS_OF, "vip", True),
        "fallback",
    ),
    (
        "an unchanged stage keeps its date and its previous stage",
        customer(aov_change_vs_first=0.5),
        ("growing", date(2024, 3, 1), "new"),
        ("growing", date(2024, 3, 1), "new", False),
        "aov_change_vs_first = 0.5 >= 20%",
    ),
]


@pytest.fixture(scope="module")
def history_results(run):
    rows = [case[1] for case in HISTORY]
    previous = [(f"c{i}", *case[2]) for i, case in enumerate(HISTORY)]
    previous.append(("gone", "new", LONG_AGO, None))  # not in the features: dropped
    return run(rows, previous=previous)


@pytest.mark.parametrize("index", range(len(HISTORY)), ids=[c[0] for c in HISTORY])
def test_decision_with_a_previous_stage(history_results, index):
    _, _, _, (stage, since, previous_stage, changed), reasons = HISTORY[index]
    got = history_results[index]
    assert (got["stage"], got["stage_since"], got["previous_stage"], got["changed"]) == (
        stage,
        since,
        previous_stage,
        changed,
    ), got
    assert got["reasons"] == reasons


def test_customers_missing_from_the_features_are_dropped(history_results):
    assert len(history_results) == len(HISTORY)
    assert "gone" not in {r["customer_id"] for r in history_results}


def test_first_run_has_no_previous_stage_and_marks_everyone_changed(run):
    results = run([customer(), LEAD])
    assert all(r["changed"] and r["previous_stage"] is None for r in results)
    assert all(r["stage_since"] == AS_OF for r in results)


# -- no flapping --------------------------------------------------------------------------------
def _variant(margin: float, min_stay: int):
    text = DEFAULT_TEXT.replace("margin: 0.1 ", f"margin: {margin} ").replace(
        "min_stay_days: 7 ", f"min_stay_days: {min_stay} "
    )
    assert text != DEFAULT_TEXT or (margin, min_stay) == (0.1, 7)
    return parse_model(text, filename="variant.yaml")


def _daily(run, model, sequences, field, base):
    """Run day after day, each day's output the next day's previous state.

    ``sequences`` holds one list of daily values of ``field`` per customer (all customers run in
    the same batch); returns each customer's stage per day.
    """
    previous, stages = None, [[] for _ in sequences]
    for day in range(len(sequences[0])):
        rows = [customer(base, **{field: seq[day]}) for seq in sequences]
        out = run(rows, model=model, as_of=AS_OF + timedelta(days=day), previous=previous)
        previous = [
            (r["customer_id"], r["stage"], r["stage_since"], r["previous_stage"]) for r in out
        ]
        for i, r in enumerate(out):
            stages[i].append(r["stage"])
    return stages


WOBBLE = [-0.52, -0.48, -0.52, -0.48]  # usage down 52%, 48%, ... around the 50% threshold
RECOVERY = [-0.52, -0.48, -0.2, -0.2]  # then usage really recovers
DECLINE_BASE = {**NEUTRAL, "usage_prev_30d": 20}


def test_without_margin_or_min_stay_a_wobbling_customer_flaps(run):
    [stages] = _daily(run, _variant(0.0, 0), [WOBBLE], "usage_change_pct", DECLINE_BASE)
    assert stages == ["declining", "growing", "declining", "growing"]


def test_the_margin_stops_the_flapping_but_not_a_real_recovery(run):
    wobble, recovery = _daily(
        run, _variant(0.1, 0), [WOBBLE, RECOVERY], "usage_change_pct", DECLINE_BASE
    )
    assert wobble == ["declining"] * 4
    assert recovery == ["declining", "declining", "growing", "growing"]


def test_the_min_stay_stops_the_flapping(run):
    [stages] = _daily(run, _variant(0.0, 7), [WOBBLE], "usage_change_pct", DECLINE_BASE)
    assert stages == ["declining"] * 4


# -- grey zone ----------------------------------------------------------------------------------
GREY = [
    ("neutral customer", customer(), "growing", False),
    (
        "churned, 95 days: within the margin of 90",
        customer(days_since_last_order=95),
        "churned",
        True,
    ),
    (
        "churned, 100 days: clear of the margin",
        customer(days_since_last_order=100),
        "churned",
        False,
    ),
    (
        "declining and mature at once (another group)",
        customer(days_since_last_order=65, referrals_90d=1),
        "declining",
        True,
    ),
    (
        "churned and declining at once (same group) is not grey",
        customer(days_since_last_order=120),
        "churned",
        False,
    ),
    (
        "55 days without order: within the margin of declining (precedence above)",
        customer(days_since_last_order=55),
        "growing",
        True,
    ),
    (
        "near a threshold of a stage below the assigned one does not count",
        customer(active_months_streak=5, aov_change_vs_first=0.19),
        "mature",
        False,
    ),
]


@pytest.mark.parametrize("index", range(len(GREY)), ids=[g[0] for g in GREY])
def test_grey_zone_flag(run, grey_results, index):
    _, _, stage, grey = GREY[index]
    assert (grey_results[index]["stage"], grey_results[index]["grey_zone"]) == (stage, grey)


@pytest.fixture(scope="module")
def grey_results(run):
    return run([g[1] for g in GREY])


# -- purity -------------------------------------------------------------------------------------
def test_same_inputs_give_the_same_output(run):
    rows = [case[1] for case in HISTORY]
    previous = [(f"c{i}", *case[2]) for i, case in enumerate(HISTORY)]
    assert run(rows, previous=previous) == run(rows, previous=previous)


def test_running_again_on_its_own_output_changes_nothing(run):
    rows = [case[1] for case in HISTORY]
    previous = [(f"c{i}", *case[2]) for i, case in enumerate(HISTORY)]
    first = run(rows, previous=previous)
    again = run(
        rows,
        previous=[
            (r["customer_id"], r["stage"], r["stage_since"], r["previous_stage"]) for r in first
        ],
    )
    keep = ("customer_id", "stage", "stage_since", "previous_stage")
    assert [{k: r[k] for k in keep} for r in again] == [{k: r[k] for k in keep} for r in first]
    assert not any(r["changed"] for r in again)


# -- contract -----------------------------------------------------------------------------------
def test_output_columns_and_types():
    out = assign_stages(feature_table([customer()]), model=load_model("default"), as_of=AS_OF)
    assert tuple(out.columns) == OUTPUT_COLUMNS
    types = {name: str(dtype) for name, dtype in out.schema().items()}
    assert types["stage_since"] == "date"
    assert types["grey_zone"] == "boolean" and types["changed"] == "boolean"
    assert types["reasons"] == types["stage"] == "string"


def test_missing_feature_column_is_named():
    table = feature_table([customer()]).drop("unsubscribed")
    with pytest.raises(InputError, match="unsubscribed"):
        assign_stages(table, model=load_model("default"), as_of=AS_OF)


def test_the_date_given_as_a_column_gives_what_the_date_gives(con):
    """A backfill compiles the rules once with the date as a column of the features."""
    model = load_model("default")
    rows = [case[1] for case in HISTORY]
    features = feature_table(rows)
    previous = ibis.memtable(
        {
            "customer_id": [f"c{i}" for i in range(len(HISTORY))],
            "stage": [case[2][0] for case in HISTORY],
            "stage_since": [case[2][1] for case in HISTORY],
            "previous_stage": [case[2][2] for case in HISTORY],
        },
        schema={"customer_id": "string", "stage": "string", "stage_since": "date",
                "previous_stage": "string"},
    )
    by_date = assign_stages(features, model=model, as_of=AS_OF, previous=previous)
    by_column = assign_stages(
        features.mutate(_day=ibis.literal(AS_OF, type="date")),
        model=model, as_of="_day", previous=previous,
    )
    expected = sorted(con.to_pyarrow(by_date).to_pylist(), key=lambda r: r["customer_id"])
    got = sorted(con.to_pyarrow(by_column).to_pylist(), key=lambda r: r["customer_id"])
    assert got == expected
    assert any(r["changed"] for r in got) and any(not r["changed"] for r in got)
    with pytest.raises(InputError, match="no date column '_when'"):
        assign_stages(features, model=model, as_of="_when", previous=previous)


def test_previous_table_without_stage_since_is_refused():
    previous = ibis.memtable({"customer_id": ["c0"], "stage": ["new"], "previous_stage": [None]})
    with pytest.raises(InputError, match="stage_since"):
        assign_stages(
            feature_table([customer()]), model=load_model("default"), as_of=AS_OF, previous=previous
        )


@pytest.mark.parametrize("name", ["relationship", "marketing", "value"])
def test_other_shipped_models_give_every_customer_one_of_their_stages(run, name):
    model = load_model(name)
    rows = [case[1] for case in HISTORY] + [g[1] for g in GREY]
    results = run(rows, model=model)
    assert {r["stage"] for r in results} <= set(model.stage_ids)
    assert all(r["reasons"] for r in results)


# -- value features (the value_aware model) -----------------------------------------------------
@pytest.fixture(scope="module")
def value_aware():
    return load_model("value_aware")


def test_a_repeat_buyer_whose_p_alive_fell_is_declining_before_the_60_day_rule(run, value_aware):
    rows = [
        customer(order_count=5, days_since_last_order=40, p_alive=0.2, value_tier="B"),
        customer(order_count=2, days_since_last_order=40, p_alive=0.2),  # guard: 3+ orders
        customer(order_count=5, days_since_last_order=40, p_alive=None),  # model not fitted
    ]
    got = run(rows, model=value_aware)
    assert got[0]["stage"] == "declining"
    assert got[0]["reasons"] == "p_alive = 0.2 < 0.3; order_count = 5 >= 3"
    assert [r["stage"] for r in got[1:]] == ["growing", "growing"]
    assert run(rows[:1])[0]["stage"] == "growing"  # the default model does not read p_alive


def test_tier_a_is_mature_and_the_reason_shows_the_tier_once(run, value_aware):
    rows = [
        customer(value_tier="A"),
        customer(value_tier="B"),
        customer(value_tier=None),
        customer(value_tier="a"),  # text is compared exactly
        customer(LEAD, value_tier="A"),  # the guard order_count >= 2 still applies
    ]
    got = run(rows, model=value_aware)
    assert [r["stage"] for r in got] == ["mature", "growing", "growing", "growing", "prospect"]
    assert got[0]["reasons"] == "value_tier = 'A'"


def test_numeric_value_features_get_the_margin_and_text_ones_do_not(run, value_aware):
    previous = [
        ("c0", "declining", LONG_AGO, "growing"),
        ("c1", "mature", LONG_AGO, "growing"),
    ]
    rows = [
        customer(order_count=5, p_alive=0.32),  # within 10% of 0.3: stays declining
        customer(value_tier="B"),  # no longer A: no margin keeps it mature
    ]
    got = run(rows, model=value_aware, previous=previous)
    assert got[0]["stage"] == "declining"
    assert got[0]["reasons"] == "p_alive = 0.32 < 0.33 (margin on 0.3); order_count = 5 >= 3"
    assert got[1]["stage"] == "mature"  # sticky: no stage's criteria hold, mature's guard does
    assert got[1]["reasons"] == "kept: no stage's criteria held"
    assert got[1]["grey_zone"] is False


def test_text_rules_compile_to_the_same_answer_as_python(con):
    from clm.analytics.rules import evaluate_expression, parse_expression
    from clm.analytics.rules.explain import Evaluator

    rows = [customer(value_tier=t, rfm_segment=s) for t, s in
            [("A", "lost"), ("B", "at_risk"), (None, None), ("C", "champions")]]
    table = feature_table(rows)
    for text in ("value_tier == 'A'", "value_tier != 'A'", "'B' = value_tier",
                 "rfm_segment in ('at_risk', 'lost')", "rfm_segment not in ('at_risk', 'lost')",
                 "coalesce(value_tier, 'none') == 'none'", "is_null(rfm_segment)"):
        got = con.execute(table.select(v=evaluate_expression(text, table)))["v"].tolist()
        want = [Evaluator(r).condition(parse_expression(text)) for r in rows]
        assert got == want, text
    assert con.execute(
        table.select(v=evaluate_expression("rfm_segment not in ('at_risk', 'lost')", table))
    )["v"].tolist() == [False, False, True, True]
