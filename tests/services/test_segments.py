"""Segments: saved filters over stage, owner, tags and features; consent-checked CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pandas as pd
import pytest
from sqlalchemy import select

from clm.errors import InputError, PermissionDeniedError, RuleError
from clm.services.actors import Actor
from clm.services.consent import erase_customer, record_consent
from clm.services.segments import (
    LABELS,
    export_segment_csv,
    save_segment,
    segment_members,
    segment_size,
)
from clm.services.tags import define_tag, tag_customer
from clm.store.tables import AuditEntry

NOW = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)
ROBOT = Actor.automated("segments")
STAGES = ["prospect", "new", "growing", "mature", "declining", "churned"]


@pytest.fixture
def base(store, sync, make_frames, new_user):
    """12 customers c000..c011 cycling through the six stages; mei (sales) owns c000-c002;
    c002, c003 and c004 carry 'vip'; c003 and c004 also 'trial'."""
    mei = new_user("mei", "sales")
    owners = ["mei"] * 3 + [None] * 9
    sync(*make_frames(12, stages=[STAGES[i % 6] for i in range(12)], owners=owners))
    with store.session() as s:
        define_tag(s, actor=ROBOT, name="vip", label_en="VIP", label_zh="贵宾")
        define_tag(s, actor=ROBOT, name="trial", label_en="Trial", label_zh="试用")
        for c in ("c002", "c003", "c004"):
            tag_customer(s, actor=ROBOT, customer_id=c, tag="vip", now=NOW)
        for c in ("c003", "c004"):
            tag_customer(s, actor=ROBOT, customer_id=c, tag="trial", now=NOW)
    return mei


def _save(store, name, definition):
    with store.session() as s:
        return save_segment(s, actor=ROBOT, name=name, definition=definition, now=NOW)


def _members(store, name, actor=ROBOT, **kw):
    with store.session() as s:
        return segment_members(s, name, actor=actor, **kw)


def test_store_criteria_combine_with_and(store, base):
    _save(store, "growing", {"stages": ["growing"]})
    _save(store, "vip-not-trial", {"tags_any": ["vip"], "tags_none": ["trial"]})
    _save(store, "vip-and-trial", {"tags_all": ["vip", "trial"], "stages": ["growing"]})
    _save(store, "mei-grey", {"owners": ["mei"], "grey_zone": True})
    assert _members(store, "growing") == ["c002", "c008"]
    assert _members(store, "vip-not-trial") == ["c002"]
    assert _members(store, "vip-and-trial") == []
    assert _members(store, "mei-grey") == ["c000"]  # make_frames: every 4th is grey


def test_a_user_sees_only_the_members_they_may_see(store, base):
    _save(store, "all", {})
    with store.session() as s:
        assert segment_size(s, "all", actor=ROBOT) == 12
        assert segment_size(s, "all", actor=base) == 3


def test_value_and_feature_criteria_use_the_features(store, base):
    features = pd.DataFrame({
        "customer_id": [f"c{i:03d}" for i in range(12)],
        "orders_90d": [i for i in range(12)],
        "value_tier": ["A", "B", "C"] * 4,
        "rfm_segment": ["champions"] * 12,
    })
    _save(store, "busy-a", {"value_tiers": ["A"], "expression": "orders_90d >= 5"})
    _save(store, "champ-vip", {"rfm_segments": ["champions"], "tags_any": ["vip"]})
    assert _members(store, "busy-a", features=features) == ["c006", "c009"]
    assert _members(store, "champ-vip", features=features) == ["c002", "c003", "c004"]


def test_bad_definitions_are_refused_naming_the_field(store, base):
    with pytest.raises(InputError, match="stagez"):
        _save(store, "x", {"stagez": ["new"]})
    with pytest.raises(InputError, match="unknown tag 'gold'"):
        _save(store, "x", {"tags_any": ["gold"]})
    with pytest.raises(RuleError, match="expression"):
        _save(store, "x", {"expression": "orders_90 >= 1"})


def test_saving_the_same_definition_twice_writes_one_audit_row(store, base):
    first = _save(store, "g", {"stages": ["growing"]})
    again = _save(store, "g", {"stages": ["growing"]})
    changed = _save(store, "g", {"stages": ["mature"]})
    with store.session() as s:
        rows = list(s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "segment")))
    assert first.id == again.id == changed.id and rows == ["create", "update"]


@pytest.fixture
def consents(store, base):
    """Marketing e-mail consent: granted c000-c005, withdrawn later by c001; c006 granted for
    SMS only. c002 is erased."""
    with store.session() as s:
        for i in range(6):
            record_consent(s, actor=ROBOT, customer_id=f"c{i:03d}", purpose="marketing",
                           channel="email", status="granted", at=NOW, source="form")
        record_consent(s, actor=ROBOT, customer_id="c001", purpose="marketing", channel="email",
                       status="withdrawn", at=NOW + dt.timedelta(hours=1), source="unsubscribe")
        record_consent(s, actor=ROBOT, customer_id="c006", purpose="marketing", channel="sms",
                       status="granted", at=NOW, source="form")
        erase_customer(s, actor=ROBOT, customer_id="c002", now=NOW)


def _read(path):
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_export_keeps_only_consenting_living_customers_with_masked_contacts(
    store, consents, tmp_path
):
    _save(store, "all", {})
    out = tmp_path / "out" / "audience.csv"
    with store.session() as s:
        report = export_segment_csv(s, "all", actor=ROBOT, purpose="marketing", channel="email",
                                    path=out, as_of=dt.date(2024, 3, 2), now=NOW)
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "segment_export")).one()
    rows = _read(out)
    assert rows[0] == ["customer_id", "name", "stage", "owner", "phone", "email", "tags"]
    assert [r[0] for r in rows[1:]] == ["c000", "c003", "c004", "c005"]
    assert rows[2][4] == "138****0003" and rows[2][5] == "u***@example.com"
    assert rows[2][6] == "trial vip"
    assert (report.rows, report.members, report.excluded_no_consent) == (4, 11, 7)
    assert report.excluded_erased == 1 and not report.unmasked
    assert json.loads(audit.after)["rows"] == 4


def test_consent_is_judged_at_the_export_date(store, consents, tmp_path):
    _save(store, "all", {})
    with store.session() as s:
        before = export_segment_csv(s, "all", actor=ROBOT, purpose="marketing", channel="email",
                                    path=tmp_path / "a.csv", as_of=dt.date(2024, 2, 29))
    assert before.rows == 0


def test_unmasked_export_needs_the_permission_and_audits_each_customer(
    store, consents, tmp_path, new_user
):
    marketer = new_user("lin", "marketing")
    _save(store, "all", {})
    with store.session() as s:
        with pytest.raises(PermissionDeniedError, match="contacts:unmask"):
            export_segment_csv(s, "all", actor=marketer, purpose="marketing", channel="email",
                               path=tmp_path / "x.csv", as_of=dt.date(2024, 3, 2), unmask=True)
        report = export_segment_csv(s, "all", actor=ROBOT, purpose="marketing", channel="email",
                                    path=tmp_path / "u.csv", as_of=dt.date(2024, 3, 2),
                                    unmask=True, locale="zh-CN", now=NOW)
        reads = list(s.scalars(select(AuditEntry.customer_id).where(
            AuditEntry.action == "read_unmasked").order_by(AuditEntry.customer_id)))
    rows = _read(tmp_path / "u.csv")
    assert rows[0][0] == "客户编号" and rows[1][4] == "13800000000"
    assert report.unmasked and reads == ["c000", "c003", "c004", "c005"]
    assert not (tmp_path / "x.csv").exists()


def test_every_label_exists_in_both_languages():
    for key, texts in LABELS.items():
        assert set(texts) == {"en", "zh-CN"} and all(texts.values()), key
