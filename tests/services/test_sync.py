"""The stage sync: idempotent, set-based, reacting to stage changes, audited as the run."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from sqlalchemy import select

from clm.errors import InputError
from clm.services.consent import erase_customer
from clm.store.tables import AuditEntry, Customer, CustomerStage, StageTransition, Task


def test_first_sync_stores_customers_stages_transitions_and_entry_tasks(sync, make_frames, store):
    report = sync(*make_frames(6))
    assert report.customers_inserted == 6 and report.stages_inserted == 6
    assert report.transitions_inserted == 6 and report.stage_changes == 6
    # prospect 2 + new 5 (day 1, then weekly on days 8, 15, 22, 29) + 2 + 2 + 2 + 2
    assert report.tasks_opened == 15
    with store.session() as s:
        stage = s.get(CustomerStage, "c001")
        assert (stage.stage, stage.grey_zone, json.loads(stage.reasons)) == (
            "new", False, ["rule new"])
        assert stage.model_version == "default@1" and stage.synced_on == dt.date(2024, 3, 1)
        dues = s.scalars(select(Task.due_on).where(Task.customer_id == "c001")
                         .order_by(Task.due_on)).all()
    assert dues == [dt.date(2024, 3, d) for d in (2, 9, 16, 23, 30)]


def test_second_identical_sync_writes_nothing(sync, make_frames, table_counts):
    frames = make_frames(12)
    sync(*frames, run_id="run-1")
    before = table_counts()
    report = sync(*frames, run_id="run-2")
    assert not report.wrote_anything and report.audit_rows == 0
    assert table_counts() == before  # audit_log included


def test_stage_change_supersedes_old_tasks_and_opens_the_new_stages(sync, make_frames, store):
    customers, current, transitions = make_frames(2, stages=["new", "growing"])
    sync(customers, current, transitions)
    moved = current.copy()
    moved.loc[0, ["stage", "previous_stage", "stage_since"]] = ["growing", "new",
                                                                 dt.date(2024, 3, 5)]
    history = pd.concat([transitions, pd.DataFrame({
        "customer_id": ["c000"], "from_stage": ["new"], "to_stage": ["growing"],
        "changed_on": [dt.date(2024, 3, 5)], "reasons": [["2 repurchases within 30 days"]]})])
    report = sync(customers, moved, history, run_id="run-2", as_of=dt.date(2024, 3, 5))
    assert report.stage_changes == 1 and report.transitions_inserted == 1
    assert report.tasks_superseded == 5 and report.tasks_opened == 2
    assert report.changes.to_dict("records") == [
        {"customer_id": "c000", "from_stage": "new", "to_stage": "growing"}]
    with store.session() as s:
        statuses = dict(s.execute(select(Task.stage, Task.status)
                                  .where(Task.customer_id == "c000")).all())
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "stage_change")).one()
        untouched = s.scalars(select(Task.status).where(Task.customer_id == "c001")).all()
    assert statuses == {"new": "superseded", "growing": "open"}
    assert set(untouched) == {"open"}
    assert (audit.actor_run_id, audit.model_version, audit.actor_user_id) == (
        "run-2", "default@1", None)
    assert json.loads(audit.before)["stage"] == "new"
    after = json.loads(audit.after)
    assert after["stage"] == "growing" and len(after["tasks"]["superseded"]) == 5


def test_a_reason_only_change_updates_without_tasks(sync, make_frames):
    customers, current, transitions = make_frames(3)
    sync(customers, current, transitions)
    current.loc[1, "reasons"] = ["a different reason"]
    report = sync(customers, current, transitions, run_id="run-2")
    assert (report.stages_updated, report.stage_changes, report.tasks_opened) == (1, 0, 0)


def test_changed_contact_data_is_updated_and_audited_field_by_field(sync, make_frames, store):
    customers, current, transitions = make_frames(3)
    sync(customers, current, transitions)
    customers.loc[2, "phone"] = "13900000000"
    report = sync(customers, current, transitions, run_id="run-2")
    assert report.customers_updated == 1 and report.customers_inserted == 0
    with store.session() as s:
        row = s.scalars(select(AuditEntry).where(AuditEntry.entity == "customer",
                                                 AuditEntry.action == "update")).one()
        assert s.get(Customer, "c002").phone == "13900000000"
    assert json.loads(row.before) == {"phone": "13800000002"}
    assert json.loads(row.after) == {"phone": "13900000000"}


def test_entry_tasks_go_to_the_owner_whose_role_fits(sync, make_frames, store, new_user):
    success = new_user("mei", "success")
    sales = new_user("lei", "sales")
    customers, current, transitions = make_frames(2, stages=["new", "new"], owners=["mei", "lei"])
    report = sync(customers, current, transitions)
    assert report.tasks_unassigned == 0
    with store.session() as s:
        owners = dict(s.execute(select(Task.customer_id, Task.assignee_id).distinct()).all())
    # mei owns c000 and is customer success (new's owner role); lei is sales, so c001 goes
    # to the only success user as well
    assert owners == {"c000": success.user_id, "c001": success.user_id}
    assert sales.user_id not in owners.values()


def test_tasks_without_a_fitting_owner_are_spread_evenly(sync, make_frames, store, new_user):
    users = [new_user(f"cs{i}", "success") for i in range(3)]
    customers, current, transitions = make_frames(9, stages=["mature"] * 9)
    sync(customers, current, transitions)
    with store.session() as s:
        per_user = pd.Series(s.scalars(select(Task.assignee_id)).all()).value_counts()
    assert sorted(per_user.index) == sorted(u.user_id for u in users)
    assert set(per_user) == {6}  # 3 customers x 2 tasks each


def test_stages_without_users_of_the_role_leave_tasks_unassigned(sync, make_frames):
    report = sync(*make_frames(2, stages=["declining", "declining"]))
    assert report.tasks_unassigned == 4 == report.tasks_opened


def test_an_erased_customer_is_not_restored_by_the_next_sync(sync, make_frames, store, admin):
    frames = make_frames(2)
    sync(*frames)
    with store.session() as s:
        erase_customer(s, actor=admin, customer_id="c001")
    report = sync(*frames, run_id="run-2")
    assert report.customers_updated == 0
    with store.session() as s:
        row = s.get(Customer, "c001")
    assert (row.name, row.phone, row.email, row.erased) == ("[erased]", None, None, True)


def test_without_entry_tasks_option_only_stages_are_written(sync, make_frames):
    report = sync(*make_frames(4), open_entry_tasks=False)
    assert report.stages_inserted == 4 and report.tasks_opened == 0


@pytest.mark.parametrize(
    ("frame", "column", "value", "message"),
    [
        ("customers", "customer_id", None, "customers row 2: customer_id is empty"),
        ("customers", "customer_id", "c000", "customers row 2: customer_id 'c000' repeats"),
        ("current", "stage", None, "current row 2: stage is empty"),
        ("current", "customer_id", "zz", "current row 2: customer 'zz' is not a known"),
        ("transitions", "changed_on", None, "transitions row 2: to_stage and changed_on"),
    ],
)
def test_bad_frames_name_the_row_and_field_and_write_nothing(
    sync, make_frames, table_counts, frame, column, value, message
):
    frames = dict(zip(("customers", "current", "transitions"), make_frames(3), strict=True))
    frames[frame].loc[1, column] = value
    before = table_counts()
    with pytest.raises(InputError, match=message):
        sync(frames["customers"], frames["current"], frames["transitions"])
    assert table_counts() == before


def test_a_missing_column_is_named(sync, make_frames):
    customers, current, transitions = make_frames(2)
    with pytest.raises(InputError, match="current: missing column"):
        sync(customers, current.drop(columns=["stage"]), transitions)


def test_transitions_are_kept_per_model_version(sync, make_frames, store):
    frames = make_frames(3)
    sync(*frames)
    report = sync(*frames, run_id="run-2", model_version="default@2")
    assert report.transitions_inserted == 3
    with store.session() as s:
        versions = s.scalars(select(StageTransition.model_version).distinct()).all()
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity == "stage_sync")
                          .order_by(AuditEntry.id.desc())).first()
    assert sorted(versions) == ["default@1", "default@2"]
    assert entry.actor_run_id == "run-2" and entry.model_version == "default@2"



def test_customers_first_seen_long_after_entering_get_the_recurring_follow_up_only(
    sync, make_frames, store
):
    customers, current, transitions = make_frames(2, stages=["mature", "mature"])
    current.loc[0, "stage_since"] = dt.date(2022, 5, 1)  # a customer of long standing
    report = sync(customers, current, transitions)
    with store.session() as s:
        kinds = {cid: sorted(k for c, k in s.execute(select(Task.customer_id, Task.kind))
                             if c == cid) for cid in ("c000", "c001")}
        due = s.scalar(select(Task.due_on).where(Task.customer_id == "c000"))
    assert kinds == {"c000": ["cadence_follow_up"],
                     "c001": ["referral_invitation", "vip_welcome"]}
    assert due == dt.date(2024, 4, 1)  # mature: monthly from the sync date
    assert report.tasks_opened == 3


def test_a_new_customer_is_audited_once_with_its_stage_and_tasks(sync, make_frames, store):
    customers, current, transitions = make_frames(2, stages=["new", "churned"])
    customers.loc[0, "name"] = 'O"Brien \\ 张\n"quoted"\t'  # needs escaping in JSON
    report = sync(customers, current, transitions)
    with store.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.customer_id.is_not(None))
                         .order_by(AuditEntry.customer_id)).all()
    assert report.audit_rows == 3 and [r.action for r in rows] == ["create", "create"]
    after = json.loads(rows[0].after)
    assert after["name"] == 'O"Brien \\ 张\n"quoted"\t' and after["owner_user_id"] is None
    assert after["signup_date"] == "2023-06-01" and after["phone"] == "13800000000"
    assert after["stage"] == {"stage": "new", "stage_since": "2024-02-01", "previous_stage": None,
                              "grey_zone": True, "reasons": ["rule new"],
                              "model_version": "default@1"}
    assert after["tasks"] == {"opened": ["onboarding_call"] + ["weekly_onboarding_call"] * 4,
                              "superseded": []}
    assert rows[0].before is None and json.loads(rows[1].after)["stage"]["grey_zone"] is False


def test_a_stored_customer_entering_a_stage_gets_a_stage_enter_row(sync, make_frames, store):
    customers, current, transitions = make_frames(2)
    sync(customers, current.iloc[:1], transitions.iloc[:1])
    report = sync(customers, current, transitions, run_id="run-2")
    assert report.stages_inserted == 1 and report.customers_inserted == 0
    with store.session() as s:
        row = s.scalars(select(AuditEntry).where(AuditEntry.action == "stage_enter")).one()
    assert row.customer_id == "c001" and json.loads(row.after)["stage"] == "new"
    assert json.loads(row.after)["tasks"]["opened"]


def test_a_first_load_leaves_every_index_and_foreign_key_in_place(sync, make_frames, store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from clm.store.tables import Base

    sync(*make_frames(30))
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_rows_that_break_a_foreign_key_are_still_refused_after_a_first_load(
    sync, make_frames, store
):
    from sqlalchemy.exc import IntegrityError

    sync(*make_frames(3))
    with store.session() as s, pytest.raises(IntegrityError), s.begin():
        s.add(Task(customer_id="nobody", kind="call", title="Call", due_on=dt.date(2024, 3, 2),
                   status="open", origin="manual", created_at=dt.datetime(2024, 3, 1), version=1))
        s.flush()


def test_frames_of_other_types_compare_alike_on_the_second_sync(sync, make_frames):
    customers, current, transitions = make_frames(4)
    sync(customers, current, transitions)
    # the same values as text, objects and timestamps: nothing to write
    customers = customers.astype({"signup_date": object})
    customers["signup_date"] = customers["signup_date"].map(lambda d: d.strftime("%Y-%m-%d"))
    current["stage_since"] = pd.to_datetime(current["stage_since"])
    current["grey_zone"] = current["grey_zone"].astype(object)
    report = sync(customers, current, transitions, run_id="run-2")
    assert not report.wrote_anything
