"""Strategy effectiveness from the stored transitions, and review alerts raised once."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import func, select

from clm.errors import InputError
from clm.services.actors import Actor
from clm.services.effectiveness import (
    LABELS,
    Thresholds,
    raise_review_alerts,
    strategy_effectiveness,
)
from clm.store.tables import StrategyReview, Task

D = dt.date
AS_OF = D(2024, 6, 30)
JAN, JAN_END = D(2024, 1, 1), D(2024, 1, 31)


def _paths(paths: dict[str, list[tuple[dt.date, str]]]):
    """Engine-run frames from each customer's path of (date, stage) moves."""
    ids = sorted(paths)
    customers = pd.DataFrame({"customer_id": ids, "name": ids, "owner": None})
    current = pd.DataFrame({
        "customer_id": ids,
        "stage": [paths[c][-1][1] for c in ids],
        "stage_since": [paths[c][-1][0] for c in ids],
        "previous_stage": [paths[c][-2][1] if len(paths[c]) > 1 else None for c in ids],
        "grey_zone": False,
        "reasons": [["r"] for _ in ids],
    })
    rows = [
        (c, paths[c][i - 1][1] if i else None, stage, day, ["r"])
        for c in ids
        for i, (day, stage) in enumerate(paths[c])
    ]
    transitions = pd.DataFrame(
        rows, columns=["customer_id", "from_stage", "to_stage", "changed_on", "reasons"]
    )
    return customers, current, transitions


@pytest.fixture
def history(sync):
    return _history(sync)


def _history(sync):
    """20 enter declining on 1/10 (one won back on 2/15, one too late on 6/1); 10 enter new on
    1/5 (four grow within the window, one churns); 3 enter declining on 6/20 (pending)."""
    paths: dict[str, list[tuple[dt.date, str]]] = {}
    for i in range(20):
        path = [(D(2023, 10, 1), "growing"), (D(2024, 1, 10), "declining")]
        if i == 0:
            path.append((D(2024, 2, 15), "growing"))
        if i == 1:
            path.append((D(2024, 6, 1), "mature"))
        paths[f"d{i:02d}"] = path
    for i in range(10):
        path = [(D(2024, 1, 5), "new")]
        if i < 4:
            path.append((D(2024, 2, 20), "growing"))
        if i == 9:
            path.append((D(2024, 5, 20), "churned"))
        paths[f"n{i:02d}"] = path
    for i in range(3):
        paths[f"p{i:02d}"] = [(D(2024, 3, 1), "growing"), (D(2024, 6, 20), "declining")]
    sync(*_paths(paths), as_of=AS_OF, open_entry_tasks=False)
    return paths


def _row(report, stage):
    (row,) = [r for r in report.rows if r.stage == stage]
    return row


def test_win_back_and_activation_count_only_moves_within_the_window(store, history):
    with store.session() as s:
        report = strategy_effectiveness(s, start=JAN, end=JAN_END, window_days=90)
    declining = _row(report, "declining")
    assert (declining.entries, declining.observed, declining.pending) == (20, 20, 0)
    assert declining.win_back_rate == pytest.approx(0.05)  # the 6/1 return is outside 90 days
    assert declining.activation_rate is None
    new = _row(report, "new")
    assert new.activation_rate == pytest.approx(0.4) and new.churn_rate == pytest.approx(0.0)
    with store.session() as s:
        longer = strategy_effectiveness(s, start=JAN, end=JAN_END, window_days=150)
    assert _row(longer, "declining").win_back_rate == pytest.approx(0.10)
    assert _row(longer, "new").churn_rate == pytest.approx(0.1)


def test_a_declining_win_back_rate_under_ten_percent_is_flagged_by_default(store, history):
    with store.session() as s:
        report = strategy_effectiveness(s, start=JAN, end=JAN_END)
    assert [(r.stage, r.flags) for r in report.flagged] == [("declining", ("win_back_rate",))]
    with store.session() as s:
        relaxed = strategy_effectiveness(
            s, start=JAN, end=JAN_END, thresholds=Thresholds(min_win_back_rate=0.05)
        )
        strict = strategy_effectiveness(
            s, start=JAN, end=JAN_END, thresholds=Thresholds(min_activation_rate=0.5)
        )
    assert relaxed.flagged == []
    assert {(r.stage, r.flags) for r in strict.flagged} == {
        ("declining", ("win_back_rate",)),
        ("new", ("activation_rate",)),
    }


def test_entries_whose_window_is_not_over_are_pending_and_never_flagged(store, history):
    with store.session() as s:
        report = strategy_effectiveness(
            s, start=D(2024, 6, 1), end=AS_OF, thresholds=Thresholds(min_entries=1)
        )
    declining = _row(report, "declining")
    assert (declining.entries, declining.observed, declining.pending) == (3, 0, 3)
    assert declining.win_back_rate is None and not declining.flagged


def test_too_few_entries_are_reported_but_not_flagged(store, history):
    with store.session() as s:
        report = strategy_effectiveness(
            s, start=JAN, end=JAN_END, thresholds=Thresholds(min_entries=21)
        )
    assert _row(report, "declining").win_back_rate == pytest.approx(0.05)
    assert report.flagged == []


def test_each_entry_is_measured_under_the_playbook_version_then_in_force(store, sync):
    """A revision was in force from 12/1, the default from 1/7; then the history was synced."""
    from clm.services.playbooks import default_playbook, parse_playbook, save_playbook

    admin = Actor.system()
    text = default_playbook().content.replace("name: default", "name: revised")
    with store.session() as s:
        revised = save_playbook(s, actor=admin, playbook=parse_playbook(text),
                                now=dt.datetime(2023, 12, 1, tzinfo=dt.UTC))
        default = save_playbook(s, actor=admin, playbook=default_playbook(),
                                now=dt.datetime(2024, 1, 7, tzinfo=dt.UTC))
    _history(sync)
    with store.session() as s:
        report = strategy_effectiveness(s, start=D(2024, 1, 1), end=D(2024, 1, 31))
    assert revised.id != default.id
    assert _row(report, "new").playbook_version_id == revised.id  # entered 1/5
    assert _row(report, "declining").playbook_version_id == default.id  # entered 1/10


def test_repurchase_uplift_compares_the_windows_before_and_after_entry(store, history):
    orders = pd.DataFrame({
        "customer_id": ["d00", "d01", "d02", "d02", "n00"],
        "ordered_at": pd.to_datetime(
            ["2024-02-01 00:00", "2024-01-02 00:00", "2023-12-20 00:00", "2024-01-20 00:00",
             "2024-01-05 10:00"]
        ),
        "amount": 10.0,
        "status": ["paid", "paid", "paid", "refunded", "paid"],
    })
    with store.session() as s:
        report = strategy_effectiveness(s, start=JAN, end=JAN_END, window_days=30, orders=orders)
    declining = _row(report, "declining")
    assert declining.repurchase_before == pytest.approx(2 / 20)  # d01, d02 (refund ignored)
    assert declining.repurchase_after == pytest.approx(1 / 20)  # d00
    assert declining.repurchase_uplift == pytest.approx(-1 / 20)
    assert _row(report, "new").repurchase_before == pytest.approx(0.1)  # the entry day counts


def test_review_alerts_go_to_each_manager_once(store, history, new_user):
    boss = new_user("boss", "manager")
    new_user("chief", "manager")
    new_user("sam", "sales")
    robot = Actor.automated("effectiveness")
    with store.session() as s:
        report = strategy_effectiveness(s, start=JAN, end=JAN_END)
        first = raise_review_alerts(s, report, actor=robot, due_on=AS_OF)
        again = raise_review_alerts(
            s, strategy_effectiveness(s, start=JAN, end=JAN_END), actor=robot, due_on=AS_OF
        )
        tasks = list(s.scalars(select(Task).where(Task.kind == "review")))
    assert len(first) == 2 and again == []
    assert sorted(t.assignee_id for t in tasks) == sorted([boss.user_id, boss.user_id + 1])
    task = tasks[0]
    assert task.customer_id is None and task.stage == "declining"
    assert "win-back rate 5.0% < 10.0%" in task.title and "挽回率" in task.title_zh


def test_a_new_period_raises_no_second_task_while_a_review_is_open(store, history, new_user):
    from clm.services.tasks import complete_task

    boss = new_user("boss", "manager")
    robot = Actor.automated("effectiveness")
    with store.session() as s:
        first = raise_review_alerts(
            s, strategy_effectiveness(s, start=JAN, end=JAN_END), actor=robot, due_on=AS_OF
        )
        wider = strategy_effectiveness(s, start=D(2023, 12, 1), end=JAN_END)
        blocked = raise_review_alerts(s, wider, actor=robot, due_on=AS_OF)
        complete_task(s, actor=boss, task_id=first[0].id)
        after_review = raise_review_alerts(
            s, strategy_effectiveness(s, start=D(2023, 11, 1), end=JAN_END), actor=robot,
            due_on=AS_OF,
        )
        reviews = s.scalar(select(func.count()).select_from(StrategyReview))
    assert len(first) == 1 and blocked == [] and len(after_review) == 1
    assert reviews == 3


def test_an_empty_store_gives_an_empty_report(store):
    with store.session() as s:
        report = strategy_effectiveness(s, start=JAN, end=JAN_END)
    assert report.rows == [] and report.as_of is None


def test_a_period_that_ends_before_it_starts_is_refused(store):
    with store.session() as s, pytest.raises(InputError, match="before start"):
        strategy_effectiveness(s, start=JAN_END, end=JAN)


def test_every_label_exists_in_both_languages():
    for key, texts in LABELS.items():
        assert set(texts) == {"en", "zh-CN"} and all(texts.values()), key
