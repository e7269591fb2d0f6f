"""Follow-ups: recorded with their next plan as one unit, validated at the boundary."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from clm.errors import InputError, NotFoundError
from clm.services import tasks as task_service
from clm.services.followups import follow_ups, record_follow_up
from clm.store.tables import AuditEntry, FollowUp, Task

NOW = dt.datetime(2024, 3, 5, 16, 0, tzinfo=dt.UTC)


@pytest.fixture
def one_customer(sync, make_frames, new_user):
    mei = new_user("mei", "success")
    sync(*make_frames(1, stages=["new"], owners=["mei"]))
    return mei


def test_the_next_plan_becomes_the_next_task(store, one_customer):
    mei = one_customer
    with store.session() as s:
        result = record_follow_up(
            s, actor=mei, customer_id="c000", occurred_on=dt.date(2024, 3, 5), channel="wechat",
            summary="Walked through reports; agreed a trial of the API", outcome="positive",
            next_date=dt.date(2024, 3, 12), next_purpose="Check the API trial", now=NOW)
        task = s.get(Task, result.next_task.id)
        row = s.get(FollowUp, result.follow_up.id)
    assert (task.title, task.due_on, task.origin, task.assignee_id) == (
        "Check the API trial", dt.date(2024, 3, 12), "follow_up", mei.user_id)
    assert row.next_task_id == task.id and row.channel == "wechat"


def test_a_follow_up_completes_the_task_it_carried_out(store, one_customer):
    with store.session() as s:
        call = s.scalars(select(Task).where(Task.kind == "onboarding_call")).one()
        result = record_follow_up(
            s, actor=one_customer, customer_id="c000", occurred_on=dt.date(2024, 3, 2),
            channel="phone", summary="Onboarding done", task_id=call.id, now=NOW)
    assert result.completed_task.status == "done" and result.next_task is None


def test_when_the_next_task_cannot_be_created_nothing_is_saved(store, one_customer,
                                                               monkeypatch, table_counts):
    before = table_counts()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(task_service, "create_task", broken)
    with store.session() as s, pytest.raises(RuntimeError, match="disk full"):
        record_follow_up(
            s, actor=one_customer, customer_id="c000", occurred_on=dt.date(2024, 3, 5),
            channel="visit", summary="Visited", next_date=dt.date(2024, 3, 9),
            next_purpose="Send the quote", now=NOW)
    assert table_counts() == before


def test_a_failing_task_completion_also_undoes_the_follow_up_and_its_next_task(
    store, one_customer, table_counts
):
    with store.session() as s:
        call = s.scalars(select(Task).where(Task.kind == "onboarding_call")).one()
        task_service.complete_task(s, actor=one_customer, task_id=call.id, now=NOW)
    before = table_counts()
    with store.session() as s, pytest.raises(Exception, match="already done"):
        record_follow_up(
            s, actor=one_customer, customer_id="c000", occurred_on=dt.date(2024, 3, 5),
            channel="phone", summary="Called", next_date=dt.date(2024, 3, 9),
            next_purpose="Call again", task_id=call.id, now=NOW)
    assert table_counts() == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"summary": "  "}, "summary"),
        ({"next_date": dt.date(2024, 3, 9)}, "next_purpose"),
        ({"next_purpose": "Call"}, "next_date"),
        ({"next_date": dt.date(2024, 3, 1), "next_purpose": "Call"}, "next_date"),
        ({"task_id": 10_000}, "task_id"),
    ],
)
def test_bad_follow_ups_name_the_field(store, one_customer, changes, field):
    args = {"customer_id": "c000", "occurred_on": dt.date(2024, 3, 5), "channel": "phone",
            "summary": "Called"} | changes
    with store.session() as s, pytest.raises(InputError) as info:
        record_follow_up(s, actor=one_customer, now=NOW, **args)
    assert info.value.context["field"] == field


def test_someone_elses_customer_looks_missing(store, one_customer, new_user):
    other = new_user("lei", "sales")
    with store.session() as s, pytest.raises(NotFoundError):
        record_follow_up(s, actor=other, customer_id="c000", occurred_on=dt.date(2024, 3, 5),
                         channel="phone", summary="Called", now=NOW)


def test_follow_ups_are_listed_newest_first_and_audited(store, one_customer):
    with store.session() as s:
        for day in (3, 5, 4):
            record_follow_up(s, actor=one_customer, customer_id="c000",
                             occurred_on=dt.date(2024, 3, day), channel="email",
                             summary=f"mail {day}", now=NOW)
        listed = follow_ups(s, actor=one_customer, customer_id="c000")
        audited = s.scalars(select(AuditEntry).where(AuditEntry.entity == "follow_up")).all()
    assert [f.summary for f in listed] == ["mail 5", "mail 4", "mail 3"]
    assert len(audited) == 3 and all(a.actor_user_id == one_customer.user_id for a in audited)
