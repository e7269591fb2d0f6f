"""Manual tags by hand, rule tags from the features, only differences written, all audited."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import select

from clm.errors import ConflictError, NotFoundError, PermissionDeniedError, RuleError
from clm.services.actors import Actor
from clm.services.tags import (
    EXAMPLE_TAGS,
    LABELS,
    apply_rule_tags,
    customer_tags,
    define_tag,
    features_from_store,
    install_example_tags,
    list_tags,
    tag_customer,
    untag_customer,
)
from clm.store.tables import AuditEntry

NOW = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)
ROBOT = Actor.automated("tags")


def _features(ids, **columns):
    return pd.DataFrame({"customer_id": ids, **columns})


@pytest.fixture
def customers(sync, make_frames):
    sync(*make_frames(4))  # c000..c003


def test_a_rule_tag_follows_the_features_and_a_rerun_writes_nothing(store, customers):
    with store.session() as s:
        define_tag(s, actor=ROBOT, name="big", label_en="Big", label_zh="大客户",
                   rule="total_spend >= 1000")
        first = apply_rule_tags(
            s, actor=ROBOT, features=_features(["c000", "c001", "c002"],
                                               total_spend=[2000.0, 10.0, 1000.0]), now=NOW)
        again = apply_rule_tags(
            s, actor=ROBOT, features=_features(["c000", "c001", "c002"],
                                               total_spend=[2000.0, 10.0, 1000.0]), now=NOW)
        moved = apply_rule_tags(
            s, actor=ROBOT, features=_features(["c000", "c001", "c002"],
                                               total_spend=[2000.0, 5000.0, 5.0]), now=NOW)
        tagged = {c: customer_tags(s, c) for c in ("c000", "c001", "c002")}
        audit = [(e.action, e.customer_id) for e in s.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "tag", AuditEntry.customer_id.is_not(None))
            .order_by(AuditEntry.id))]
    assert first.added == {"big": 2} and again.changes == 0
    assert moved.added == {"big": 1} and moved.removed == {"big": 1}
    assert tagged == {"c000": ["big"], "c001": ["big"], "c002": []}
    assert audit == [("tag", "c000"), ("tag", "c002"), ("tag", "c001"), ("untag", "c002")]


def test_features_for_unknown_customers_are_ignored(store, customers):
    with store.session() as s:
        define_tag(s, actor=ROBOT, name="any", label_en="Any", label_zh="任意",
                   rule="order_count >= 0")
        report = apply_rule_tags(s, actor=ROBOT,
                                 features=_features(["c000", "zzz"], order_count=[1, 1]))
    assert report.matched == {"any": 1}


def test_a_bad_rule_is_refused_when_the_tag_is_defined(store):
    with store.session() as s, pytest.raises(RuleError, match="total_spnd"):
        define_tag(s, actor=ROBOT, name="bad", label_en="Bad", label_zh="坏",
                   rule="total_spnd > 1")


def test_manual_tags_are_put_on_once_and_taken_off(store, customers, new_user):
    sales = new_user("sam", "sales")
    with store.session() as s:
        define_tag(s, actor=ROBOT, name="vip", label_en="VIP", label_zh="贵宾")
        assert tag_customer(s, actor=ROBOT, customer_id="c001", tag="vip", now=NOW)
        assert not tag_customer(s, actor=ROBOT, customer_id="c001", tag="vip", now=NOW)
        assert customer_tags(s, "c001") == ["vip"]
        with pytest.raises(NotFoundError):  # sam owns nobody: c001 is invisible to him
            tag_customer(s, actor=sales, customer_id="c001", tag="vip")
        assert untag_customer(s, actor=ROBOT, customer_id="c001", tag="vip")
        assert customer_tags(s, "c001") == []


def test_rule_tags_cannot_be_set_by_hand_nor_change_kind(store, customers):
    with store.session() as s:
        define_tag(s, actor=ROBOT, name="big", label_en="Big", label_zh="大",
                   rule="total_spend > 1")
        with pytest.raises(ConflictError, match="set by its rule"):
            tag_customer(s, actor=ROBOT, customer_id="c000", tag="big")
        with pytest.raises(ConflictError, match="cannot change kind"):
            define_tag(s, actor=ROBOT, name="big", label_en="Big", label_zh="大")


def test_defining_a_tag_needs_the_whole_customer_base(store, new_user):
    sales = new_user("sam", "sales")
    with store.session() as s, pytest.raises(PermissionDeniedError, match="customers:all"):
        define_tag(s, actor=sales, name="mine", label_en="Mine", label_zh="我的")


def test_example_tags_evaluate_on_the_published_metrics(store, customers):
    """price-sensitive: repeat buyer, average order >= 20% below the first one."""
    from clm.analytics.feature_catalog import FEATURES
    from clm.services.snapshots import replace_metrics

    base = {f.name: (False if f.dtype == "bool" else 0) for f in FEATURES}
    base.update(onboarding_completed=True, distinct_features_30d=4)
    rows = [
        ("c000", {"order_count": 3, "aov_change_vs_first": -0.25}),
        ("c001", {"order_count": 3, "aov_change_vs_first": -0.1}),
        ("c002", {"order_count": 1, "aov_change_vs_first": None, "onboarding_completed": False}),
    ]
    import json

    metrics = pd.DataFrame({
        "customer_id": [c for c, _ in rows],
        "as_of": dt.date(2024, 3, 1),
        "order_count": [v["order_count"] for _, v in rows],
        "total_spend": 0.0,
        "active_days_30d": 0,
        "features": [json.dumps({**base, **v}) for _, v in rows],
        "value_tier": ["A", "B", None],
    })
    with store.session() as s:
        replace_metrics(s, metrics)
        install_example_tags(s, actor=ROBOT, now=NOW)
        install_example_tags(s, actor=ROBOT, now=NOW)  # harmless twice
        features = features_from_store(s)
        report = apply_rule_tags(s, actor=ROBOT, now=NOW)
        tagged = {c: customer_tags(s, c) for c, _ in rows}
        listed = {t["name"]: t["customers"] for t in list_tags(s)}
    assert features["value_tier"].tolist()[:2] == ["A", "B"]
    assert str(features["onboarding_completed"].dtype) == "boolean"
    assert report.matched == {"needs-training": 1, "price-sensitive": 1}
    assert tagged == {"c000": ["price-sensitive"], "c001": [], "c002": ["needs-training"]}
    assert listed == {"needs-training": 1, "price-sensitive": 1}
    assert {t["name"] for t in EXAMPLE_TAGS} == set(listed)


def test_every_label_exists_in_both_languages():
    for key, texts in LABELS.items():
        assert set(texts) == {"en", "zh-CN"} and all(texts.values()), key
