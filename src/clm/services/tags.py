"""Tags that refine the treatment within a stage: manual ones, and rule-based ones.

Spec section 5: needs differ within one stage, and tags such as "needs training" (培训需求型)
or "price-sensitive" (价格敏感型) refine the treatment. A *manual* tag is put on a customer by a
person. A *rule* tag holds an expression in the stage rules' language (``docs/stage-models.md``)
over the customer features, e.g. ``order_count >= 2 and aov_change_vs_first <= -20%``; the
expression is parsed when the tag is defined, so a tag that saves also runs.

``apply_rule_tags`` evaluates every rule tag over a features table (by default the
``customer_metrics`` the last engine run published to the store) and writes only the
differences: customers who now match get the tag, those who no longer match lose it, and a
second run with the same features writes nothing. Each change is one audit row, written in bulk.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime

import ibis
import ibis.expr.types as ir
import pandas as pd
from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from clm.analytics.feature_catalog import FEATURES
from clm.analytics.rules import Origin, evaluate_expression, parse_expression
from clm.errors import ConflictError, InputError, NotFoundError
from clm.services.actors import Actor
from clm.services.audit import record, record_many, to_json, transaction
from clm.services.users import visible_customer
from clm.store.bulk import insert_frame, read_frame, utcnow
from clm.store.tables import Customer, CustomerMetrics, CustomerTag, Tag

TAG_KINDS = ("manual", "rule")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,99}$")
VALUE_COLUMNS = ("r_score", "f_score", "m_score", "rfm_segment", "value_tier", "clv", "p_alive")
_TEXT_VALUES = ("rfm_segment", "value_tier")
_DTYPES = {"int": "Int64", "float": "Float64", "bool": "boolean"}

# Shipped examples (spec section 5). The data contract has no discount field, so
# "price-sensitive" is read from behaviour the features do hold: a repeat buyer whose average
# order is at least 20% below their first order has moved to cheaper or discounted purchases.
EXAMPLE_TAGS: tuple[dict[str, str], ...] = (
    {
        "name": "price-sensitive",
        "label_en": "Price-sensitive",
        "label_zh": "价格敏感型",
        "rule": "order_count >= 2 and aov_change_vs_first <= -20%",
    },
    {
        "name": "needs-training",
        "label_en": "Needs training",
        "label_zh": "培训需求型",
        "rule": "order_count >= 1 and (not onboarding_completed or distinct_features_30d < 2)",
    },
)

# Labels of this module's output, in both languages (a test checks both exist).
LABELS: dict[str, dict[str, str]] = {
    "tags.kind.manual": {"en": "Manual", "zh-CN": "手动"},
    "tags.kind.rule": {"en": "Rule", "zh-CN": "规则"},
}


@dataclass
class TagApplyReport:
    """What one application of the rule tags changed, per tag: customers added and removed."""

    as_of: date | None
    added: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    matched: dict[str, int] = field(default_factory=dict)

    @property
    def changes(self) -> int:
        return sum(self.added.values()) + sum(self.removed.values())


def tag_snapshot(tag: Tag) -> dict:
    return {
        "name": tag.name,
        "label_en": tag.label_en,
        "label_zh": tag.label_zh,
        "kind": tag.kind,
        "rule": tag.rule,
    }


def check_rule(rule: str, *, field_name: str = "rule") -> None:
    """Parse a tag rule; ``RuleError`` names the field, column and the offending token."""
    parse_expression(rule, origin=Origin(file=field_name))


def _require_definer(actor: Actor) -> None:
    # Defining a tag or segment reshapes everyone's view, so it needs the whole customer base.
    actor.require("customers:all")


def define_tag(
    session: Session,
    *,
    actor: Actor,
    name: str,
    label_en: str,
    label_zh: str,
    rule: str | None = None,
    now: datetime | None = None,
) -> Tag:
    """Create a tag, or change the labels or rule of an existing one (a manual tag stays manual).

    A tag with a ``rule`` is a rule tag; its members are set by ``apply_rule_tags`` only.
    """
    _require_definer(actor)
    now = now or utcnow()
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(
            f"tag name {name!r}: lower-case letters, digits, - and _, starting with a letter",
            field="name",
        )
    for key, text in (("label_en", label_en), ("label_zh", label_zh)):
        if not text or not text.strip():
            raise InputError(f"a tag needs {key}", field=key)
    if rule is not None:
        check_rule(rule)
    with transaction(session):
        tag = session.scalar(select(Tag).where(Tag.name == name))
        before = tag_snapshot(tag) if tag is not None else None
        if tag is None:
            tag = Tag(name=name, created_at=now)
            session.add(tag)
        elif (tag.kind == "manual") != (rule is None):
            raise ConflictError(
                f"tag {name!r} is a {tag.kind} tag; a tag cannot change kind", field="rule"
            )
        tag.label_en, tag.label_zh = label_en.strip(), label_zh.strip()
        tag.kind, tag.rule = ("rule", rule.strip()) if rule is not None else ("manual", None)
        session.flush()
        after = tag_snapshot(tag)
        if before != after:
            record(
                session,
                actor=actor,
                action="create" if before is None else "update",
                entity="tag",
                entity_id=tag.id,
                before=before,
                after=after,
                at=now,
            )
    return tag


def install_example_tags(
    session: Session, *, actor: Actor, now: datetime | None = None
) -> list[Tag]:
    """Define the shipped example tags (``price-sensitive``, ``needs-training``) if missing."""
    out = []
    with transaction(session):
        for spec in EXAMPLE_TAGS:
            existing = session.scalar(select(Tag).where(Tag.name == spec["name"]))
            out.append(existing or define_tag(session, actor=actor, now=now, **spec))
    return out


def get_tag(session: Session, name: str) -> Tag:
    tag = session.scalar(select(Tag).where(Tag.name == name))
    if tag is None:
        raise NotFoundError(f"tag {name!r} does not exist", field="tag")
    return tag


def list_tags(session: Session) -> list[dict]:
    """Every tag with its number of customers."""
    from sqlalchemy import func

    counts = dict(
        session.execute(
            select(CustomerTag.tag_id, func.count()).group_by(CustomerTag.tag_id)
        ).all()
    )
    return [
        {**tag_snapshot(t), "id": t.id, "customers": int(counts.get(t.id, 0))}
        for t in session.scalars(select(Tag).order_by(Tag.name))
    ]


def delete_tag(session: Session, *, actor: Actor, name: str, now: datetime | None = None) -> None:
    """Remove a tag and every customer's use of it."""
    _require_definer(actor)
    with transaction(session):
        tag = get_tag(session, name)
        before = tag_snapshot(tag)
        session.execute(delete(CustomerTag).where(CustomerTag.tag_id == tag.id))
        session.delete(tag)
        session.flush()
        record(session, actor=actor, action="delete", entity="tag", entity_id=name,
               before=before, at=now)


# -- manual tagging -------------------------------------------------------------------------


def tag_customer(
    session: Session, *, actor: Actor, customer_id: str, tag: str, now: datetime | None = None
) -> bool:
    """Put manual tag ``tag`` on a customer the actor may see; False if it was already there."""
    actor.require("followups:write")
    now = now or utcnow()
    with transaction(session):
        visible_customer(session, actor, customer_id)
        row = get_tag(session, tag)
        if row.kind != "manual":
            raise ConflictError(
                f"tag {tag!r} is set by its rule; it cannot be put on by hand", field="tag"
            )
        if session.get(CustomerTag, (customer_id, row.id)) is not None:
            return False
        session.add(CustomerTag(customer_id=customer_id, tag_id=row.id, source="manual",
                                tagged_at=now))
        session.flush()
        record(session, actor=actor, action="tag", entity="tag", entity_id=tag,
               customer_id=customer_id, after={"tag": tag, "source": "manual"}, at=now)
    return True


def untag_customer(
    session: Session, *, actor: Actor, customer_id: str, tag: str, now: datetime | None = None
) -> bool:
    """Take manual tag ``tag`` off a customer; False if they did not have it."""
    actor.require("followups:write")
    with transaction(session):
        visible_customer(session, actor, customer_id)
        row = get_tag(session, tag)
        if row.kind != "manual":
            raise ConflictError(
                f"tag {tag!r} is set by its rule; it cannot be taken off by hand", field="tag"
            )
        link = session.get(CustomerTag, (customer_id, row.id))
        if link is None:
            return False
        session.delete(link)
        session.flush()
        record(session, actor=actor, action="untag", entity="tag", entity_id=tag,
               customer_id=customer_id, before={"tag": tag, "source": "manual"}, at=now)
    return True


def customer_tags(session: Session, customer_id: str) -> list[str]:
    """Names of the tags a customer carries, sorted."""
    return sorted(
        session.scalars(
            select(Tag.name)
            .join(CustomerTag, CustomerTag.tag_id == Tag.id)
            .where(CustomerTag.customer_id == customer_id)
        )
    )


# -- features and rule tags -----------------------------------------------------------------


def features_from_store(session: Session) -> pd.DataFrame:
    """The features of every customer as the last engine run published them.

    One row per customer of ``customer_metrics``: ``customer_id``, every catalogued feature
    (typed as the catalog says, nullable) and the value columns (``value_tier``,
    ``rfm_segment``, ...). Empty (with those columns) before the first run.
    """
    frame = read_frame(
        session,
        select(CustomerMetrics.customer_id, CustomerMetrics.features,
               *(getattr(CustomerMetrics, c) for c in VALUE_COLUMNS)),
    )
    parsed = pd.DataFrame.from_records(
        [json.loads(text) if text else {} for text in frame.get("features", [])],
        columns=[f.name for f in FEATURES],
    )
    out = pd.DataFrame({"customer_id": frame.get("customer_id", pd.Series(dtype=str))})
    out = out.astype({"customer_id": "string"}).reset_index(drop=True)
    for spec in FEATURES:
        values = parsed[spec.name] if len(parsed) else pd.Series([], dtype=object)
        out[spec.name] = pd.Series(values.to_numpy(), dtype=object).astype(_DTYPES[spec.dtype])
    for column in VALUE_COLUMNS:  # read_frame gives stored text (PostgreSQL) or values
        raw = frame[column].replace("", None) if len(frame) else pd.Series([], dtype=object)
        if column in _TEXT_VALUES:
            out[column] = pd.Series(raw.to_numpy(), dtype=object).astype("string")
        else:
            kind = "Int64" if column.endswith("_score") else "Float64"
            out[column] = pd.to_numeric(pd.Series(raw.to_numpy()), errors="coerce").astype(kind)
    return out


def as_table(features: ir.Table | pd.DataFrame) -> ir.Table:
    """A features frame as an Ibis table (an Ibis table is used as it is)."""
    if isinstance(features, ir.Table):
        return features
    if "customer_id" not in features.columns:
        raise InputError("the features table has no customer_id column", field="customer_id")
    return ibis.memtable(features)


def matching(features: ir.Table, rule: str, *, tag: str | None = None) -> set[str]:
    """Ids of the customers whose features satisfy ``rule`` (evaluated in the engine)."""
    origin = Origin(file=f"tag {tag}" if tag else "rule")
    parse_expression(rule, origin=origin)  # errors name the tag
    hits = features.filter(evaluate_expression(rule, features)).select("customer_id")
    return set(hits.to_pyarrow().column("customer_id").to_pylist())


def apply_rule_tags(
    session: Session,
    *,
    actor: Actor,
    features: ir.Table | pd.DataFrame | None = None,
    as_of: date | None = None,
    tags: list[str] | None = None,
    now: datetime | None = None,
) -> TagApplyReport:
    """Bring every rule tag (or those named in ``tags``) in line with ``features``.

    ``features`` defaults to the store's ``customer_metrics``. Only customers known to the store
    are tagged. Writes only differences; each added or removed tag is one audit row.
    """
    now = now or utcnow()
    report = TagApplyReport(as_of=as_of)
    with transaction(session):
        stmt = select(Tag).where(Tag.kind == "rule").order_by(Tag.name)
        if tags is not None:
            stmt = stmt.where(Tag.name.in_(list(tags)))
        rule_tags = list(session.scalars(stmt))
        if tags is not None:
            unknown = sorted(set(tags) - {t.name for t in rule_tags})
            if unknown:
                raise NotFoundError(f"no rule tag named {unknown[0]!r}", field="tag")
        if not rule_tags:
            return report
        table = as_table(features if features is not None else features_from_store(session))
        known = set(session.scalars(select(Customer.id)))
        for tag in rule_tags:
            want = matching(table, tag.rule or "", tag=tag.name) & known
            have = set(session.scalars(
                select(CustomerTag.customer_id).where(CustomerTag.tag_id == tag.id)
            ))
            added, removed = sorted(want - have), sorted(have - want)
            report.matched[tag.name] = len(want)
            report.added[tag.name], report.removed[tag.name] = len(added), len(removed)
            _write_changes(session, actor=actor, tag=tag, added=added, removed=removed, now=now)
    return report


def _write_changes(
    session: Session, *, actor: Actor, tag: Tag, added: list[str], removed: list[str],
    now: datetime,
) -> None:
    if removed:
        for start in range(0, len(removed), 500):  # stay under SQLite's parameter limit
            chunk = removed[start:start + 500]
            session.execute(
                delete(CustomerTag).where(
                    tuple_(CustomerTag.customer_id, CustomerTag.tag_id).in_(
                        [(c, tag.id) for c in chunk]
                    )
                )
            )
    if added:
        insert_frame(session, CustomerTag.__table__, pd.DataFrame({
            "customer_id": added, "tag_id": tag.id, "source": "rule", "tagged_at": now,
        }))
    if added or removed:
        state = to_json({"tag": tag.name, "source": "rule", "rule": tag.rule})
        rows = pd.DataFrame({
            "action": ["tag"] * len(added) + ["untag"] * len(removed),
            "entity": "tag",
            "entity_id": tag.name,
            "customer_id": added + removed,
            "before": [None] * len(added) + [state] * len(removed),
            "after": [state] * len(added) + [None] * len(removed),
        })
        record_many(session, actor=actor, rows=rows, at=now)
