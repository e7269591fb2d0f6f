"""Consent history, erasure in the store and the warehouse, and the subject-access export."""

from __future__ import annotations

import datetime as dt
import json

import ibis
import pandas as pd
import pytest
from sqlalchemy import select

from clm.domain.contract import CUSTOMERS
from clm.errors import InputError, PermissionDeniedError
from clm.services.audit import entries
from clm.services.consent import (
    consenting,
    erase_customer,
    erase_in_warehouse,
    has_consent,
    record_consent,
    subject_access_export,
)
from clm.services.followups import record_follow_up
from clm.store.tables import AuditEntry, Customer, FollowUp, Task
from clm.warehouse import canonical_schema

T = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def synced(sync, make_frames, admin):
    sync(*make_frames(3))
    return admin


def test_consent_in_force_is_the_latest_event_at_that_time(store, synced):
    with store.session() as s:
        record_consent(s, actor=synced, customer_id="c000", purpose="marketing", channel="email",
                       status="granted", at=T, source="signup form")
        record_consent(s, actor=synced, customer_id="c000", purpose="marketing", channel="email",
                       status="withdrawn", at=T + dt.timedelta(days=10), source="unsubscribe")
        ask = {"customer_id": "c000", "purpose": "marketing", "channel": "email"}
        assert not has_consent(s, as_of=dt.date(2024, 2, 29), **ask)  # none yet: opt-in
        assert has_consent(s, as_of=dt.date(2024, 3, 1), **ask)  # given that morning
        assert has_consent(s, as_of=dt.date(2024, 3, 10), **ask)
        assert not has_consent(s, as_of=dt.date(2024, 3, 11), **ask)
        assert not has_consent(s, customer_id="c000", purpose="marketing", channel="sms",
                               as_of=dt.date(2024, 3, 5))


def test_outbound_audiences_keep_only_customers_with_consent(store, synced):
    with store.session() as s:
        for cid, status in (("c000", "granted"), ("c001", "withdrawn"), ("c002", "granted")):
            record_consent(s, actor=synced, customer_id=cid, purpose="marketing",
                           channel="wechat", status=status, at=T, source="mini program")
        audience = consenting(s, customer_ids=["c000", "c001"], purpose="marketing",
                              channel="wechat", as_of=dt.date(2024, 3, 2))
        everyone = consenting(s, customer_ids=None, purpose="marketing", channel="wechat",
                              as_of=dt.date(2024, 3, 2))
    assert audience == {"c000"} and everyone == {"c000", "c002"}


@pytest.mark.parametrize(("changes", "field"), [({"purpose": "spam"}, "purpose"),
                                                ({"channel": "fax"}, "channel"),
                                                ({"status": "maybe"}, "status"),
                                                ({"source": " "}, "source")])
def test_bad_consent_records_name_the_field(store, synced, changes, field):
    args = {"customer_id": "c000", "purpose": "marketing", "channel": "email",
            "status": "granted", "at": T, "source": "form"} | changes
    with store.session() as s, pytest.raises(InputError) as info:
        record_consent(s, actor=synced, **args)
    assert info.value.context["field"] == field


def test_erasure_anonymises_the_person_and_keeps_stages_and_counts(store, synced):
    with store.session() as s:
        record_follow_up(s, actor=synced, customer_id="c001", occurred_on=dt.date(2024, 3, 1),
                         channel="phone", summary="Talked to 张三 at 13800000001",
                         next_date=dt.date(2024, 3, 8), next_purpose="Call 张三 again")
        report = erase_customer(s, actor=synced, customer_id="c001", now=T)
        customer = s.get(Customer, "c001")
        follow = s.scalars(select(FollowUp)).one()
        tasks = s.scalars(select(Task).where(Task.customer_id == "c001")).all()
        audit_text = " ".join(f"{a.before} {a.after}" for a in s.scalars(
            select(AuditEntry).where(AuditEntry.customer_id == "c001")))
        others = s.get(Customer, "c000")
    assert (customer.name, customer.phone, customer.email, customer.erased) == (
        "[erased]", None, None, True)
    assert customer.industry is not None and customer.signup_date is not None
    assert follow.summary == "[erased]" and follow.next_purpose is None
    assert {t.status for t in tasks} == {"cancelled"} and report.tasks_cancelled == len(tasks)
    assert "张三" not in audit_text and "13800000001" not in audit_text
    assert "user1@example.com" not in audit_text
    assert report.audit_rows_redacted >= 2
    assert others.name == "客户0"


def test_erasure_rewrites_the_warehouse_customers_table(store, synced, warehouse):
    warehouse.ensure_input_tables()
    rows = pd.DataFrame({"customer_id": ["c000", "c001"], "name": ["A", "B"],
                         "industry": ["retail", "saas"], "phone": ["1", "2"],
                         "email": ["a@x.cn", "b@x.cn"], "owner": None,
                         "acquisition_channel": None, "signup_date": None,
                         "unsubscribed_on": None, "account_closed_on": None,
                         "row_key": ["c000", "c001"], "source_file": "c.csv",
                         "source_line": [2, 3]})
    warehouse.insert("customers", rows)
    with store.session() as s:
        report = erase_customer(s, actor=synced, customer_id="c001", warehouse=warehouse, now=T)
    assert report.warehouse_rows == 1
    after = warehouse.table("customers").order_by("customer_id").to_pandas()
    assert after["name"].tolist() == ["A", "[erased]"]
    assert after["phone"].isna().tolist() == [False, True]
    assert after["industry"].tolist() == ["retail", "saas"]
    assert erase_in_warehouse(warehouse, "nobody") == 0


@pytest.mark.postgres
def test_erasure_rewrites_a_postgres_warehouse(pg_warehouse):
    pg_warehouse.ensure_input_tables()
    frame = pd.DataFrame({
        "customer_id": ["c9"], "name": ["O'Neil"], "industry": ["x"], "phone": ["1"],
        "email": ["o@x.cn"], "owner": None, "acquisition_channel": None, "signup_date": None,
        "unsubscribed_on": None, "account_closed_on": None, "row_key": ["c9"],
        "source_file": "c.csv", "source_line": [2]})
    pg_warehouse.insert("customers", ibis.memtable(frame, schema=canonical_schema(CUSTOMERS)))
    assert erase_in_warehouse(pg_warehouse, "c9") == 1
    row = pg_warehouse.table("customers").to_pandas().iloc[0]
    assert row["name"] == "[erased]" and pd.isna(row["email"]) and row["industry"] == "x"


def test_subject_access_export_holds_everything_about_one_customer(store, synced):
    with store.session() as s:
        record_consent(s, actor=synced, customer_id="c002", purpose="service", channel="sms",
                       status="granted", at=T, source="contract")
        record_follow_up(s, actor=synced, customer_id="c002", occurred_on=dt.date(2024, 3, 1),
                         channel="visit", summary="Site visit")
        export = subject_access_export(s, actor=synced, customer_id="c002", now=T)
        audited = entries(s, actor=synced, customer_id="c002", limit=1)[0]
    text = json.dumps(export, ensure_ascii=False)  # JSON-ready as it is
    assert export["customer"]["phone"] == "13800000002"  # unmasked: it is their own data
    assert export["stage"]["stage"] == "growing"
    assert [t["to_stage"] for t in export["transitions"]] == ["growing"]
    assert len(export["tasks"]) == 2 and len(export["follow_ups"]) == 1
    assert export["consents"][0]["source"] == "contract"
    assert {a["action"] for a in export["audit"]} >= {"create", "consent_granted"}
    created = next(a for a in export["audit"] if a["entity"] == "customer")
    assert created["after"]["stage"]["stage"] == "growing"  # first sight: one row with its stage
    assert "客户2" in text
    assert audited.action == "subject_access_export"


def test_privacy_requests_need_their_permissions(store, synced, new_user):
    sales = new_user("lei", "sales")
    with store.session() as s:
        with pytest.raises(PermissionDeniedError, match="privacy:erase"):
            erase_customer(s, actor=sales, customer_id="c000")
        with pytest.raises(PermissionDeniedError, match="privacy:export"):
            subject_access_export(s, actor=sales, customer_id="c000")
