"""Segments: saved filters over stage, owner, tags, values and features; audience export.

A segment is a named filter (spec section 6: segmentation by behaviour and value, resources
allocated by value), stored as JSON in ``segments.definition`` and evaluated when asked, so its
members follow the latest stages, tags and metrics. Store-side criteria (stage, grey zone,
owner, tags) run as SQL; value and feature criteria run over the features the last engine run
published (``customer_metrics``), the ``expression`` in the stage rules' language.

``export_segment_csv`` writes a segment's audience for one purpose and channel. It leaves out
customers without consent in force for that purpose and channel (opt-in: no record means no
consent; PIPL art. 13-14, GDPR art. 6-7) and erased customers, masks contacts unless the actor
may and asks to unmask, and audits the export; unmasked exports also leave one
``read_unmasked`` row per customer, so a subject-access export shows who received the contact.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from clm.errors import InputError, NotFoundError
from clm.services.actors import Actor
from clm.services.audit import record, record_many, to_json, transaction
from clm.services.consent import consenting
from clm.services.tags import as_table, check_rule, features_from_store, matching
from clm.services.users import mask_email, mask_phone, visible_customers
from clm.store.bulk import utcnow
from clm.store.tables import Customer, CustomerStage, CustomerTag, Segment, Tag, User

EXPORT_COLUMNS = ("customer_id", "name", "stage", "owner", "phone", "email", "tags")

# Labels of the export's header row, in both languages (a test checks both exist).
LABELS: dict[str, dict[str, str]] = {
    "segments.column.customer_id": {"en": "customer_id", "zh-CN": "客户编号"},
    "segments.column.name": {"en": "name", "zh-CN": "姓名"},
    "segments.column.stage": {"en": "stage", "zh-CN": "阶段"},
    "segments.column.owner": {"en": "owner", "zh-CN": "负责人"},
    "segments.column.phone": {"en": "phone", "zh-CN": "电话"},
    "segments.column.email": {"en": "email", "zh-CN": "邮箱"},
    "segments.column.tags": {"en": "tags", "zh-CN": "标签"},
}


class SegmentFilter(BaseModel):
    """A segment's definition; every field is optional and they all must hold (AND).

    Lists mean "any of these"; ``tags_all`` means "every one of these".
    """

    model_config = ConfigDict(extra="forbid")

    stages: list[str] | None = Field(default=None, description="Current stage is one of these")
    grey_zone: bool | None = Field(default=None, description="In a stage's grey zone (or not)")
    owners: list[str] | None = Field(
        default=None, description="Owner's login, or the owner as imported"
    )
    tags_any: list[str] | None = Field(default=None, description="Carries any of these tags")
    tags_all: list[str] | None = Field(default=None, description="Carries all of these tags")
    tags_none: list[str] | None = Field(default=None, description="Carries none of these tags")
    value_tiers: list[str] | None = Field(default=None, description="Value tier is one of these")
    rfm_segments: list[str] | None = Field(default=None, description="RFM segment is one of")
    expression: str | None = Field(
        default=None, description="A rule over the features, e.g. `orders_90d >= 3`"
    )

    def needs_features(self) -> bool:
        return bool(self.value_tiers or self.rfm_segments or self.expression)


@dataclass(frozen=True)
class ExportReport:
    path: Path
    rows: int
    members: int
    excluded_no_consent: int
    excluded_erased: int
    unmasked: bool


def parse_definition(definition: dict[str, Any] | SegmentFilter | str) -> SegmentFilter:
    """Validate a definition (dict, JSON text or ``SegmentFilter``); errors name the field."""
    if isinstance(definition, SegmentFilter):
        spec = definition
    else:
        try:
            data = json.loads(definition) if isinstance(definition, str) else definition
            spec = SegmentFilter.model_validate(data)
        except json.JSONDecodeError as exc:
            raise InputError(f"segment definition is not JSON: {exc}", field="definition") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "definition"
            raise InputError(f"segment definition: {where}: {first['msg']}", field=where) from None
    if spec.expression is not None:
        check_rule(spec.expression, field_name="expression")
    return spec


def _check_tags(session: Session, spec: SegmentFilter) -> None:
    named = set((spec.tags_any or []) + (spec.tags_all or []) + (spec.tags_none or []))
    if not named:
        return
    known = set(session.scalars(select(Tag.name).where(Tag.name.in_(sorted(named)))))
    missing = sorted(named - known)
    if missing:
        raise InputError(f"segment definition names unknown tag {missing[0]!r}", field="tags")


def save_segment(
    session: Session,
    *,
    actor: Actor,
    name: str,
    definition: dict[str, Any] | SegmentFilter | str,
    now: datetime | None = None,
) -> Segment:
    """Create the segment ``name``, or replace its definition; audited with before and after."""
    actor.require("customers:all")
    now = now or utcnow()
    if not name or not name.strip() or len(name) > 100:
        raise InputError("a segment needs a name of 1-100 characters", field="name")
    spec = parse_definition(definition)
    text = spec.model_dump_json(exclude_none=True)
    with transaction(session):
        _check_tags(session, spec)
        row = session.scalar(select(Segment).where(Segment.name == name.strip()))
        before = None if row is None else {"name": row.name, "definition": row.definition}
        if row is None:
            row = Segment(name=name.strip(), definition=text, created_by=actor.user_id,
                          created_at=now)
            session.add(row)
        elif row.definition == text:
            return row
        row.definition = text
        session.flush()
        record(session, actor=actor, action="create" if before is None else "update",
               entity="segment", entity_id=row.id, before=before,
               after={"name": row.name, "definition": text}, at=now)
    return row


def get_segment(session: Session, segment: int | str) -> Segment:
    """A segment by id or by name."""
    column = Segment.id if isinstance(segment, int) else Segment.name
    row = session.scalar(select(Segment).where(column == segment))
    if row is None:
        raise NotFoundError(f"segment {segment!r} does not exist", field="segment")
    return row


def list_segments(session: Session) -> list[Segment]:
    return list(session.scalars(select(Segment).order_by(Segment.name)))


def delete_segment(
    session: Session, *, actor: Actor, segment: int | str, now: datetime | None = None
) -> None:
    actor.require("customers:all")
    with transaction(session):
        row = get_segment(session, segment)
        before = {"name": row.name, "definition": row.definition}
        session.delete(row)
        session.flush()
        record(session, actor=actor, action="delete", entity="segment", entity_id=before["name"],
               before=before, at=now)


# -- membership -----------------------------------------------------------------------------


def _tag_ids(session: Session, names: list[str]) -> list[int]:
    return list(session.scalars(select(Tag.id).where(Tag.name.in_(names))))


def _store_query(session: Session, spec: SegmentFilter, actor: Actor, *, erased: bool = False):
    stmt = (
        select(Customer.id)
        .outerjoin(CustomerStage, CustomerStage.customer_id == Customer.id)
        .where(visible_customers(actor), Customer.erased.is_(erased))
    )
    if spec.stages is not None:
        stmt = stmt.where(CustomerStage.stage.in_(spec.stages))
    if spec.grey_zone is not None:
        stmt = stmt.where(CustomerStage.grey_zone.is_(spec.grey_zone))
    if spec.owners is not None:
        owner_ids = select(User.id).where(User.login.in_(spec.owners))
        stmt = stmt.where(Customer.owner_user_id.in_(owner_ids) | Customer.owner.in_(spec.owners))
    if spec.tags_any:
        stmt = stmt.where(Customer.id.in_(
            select(CustomerTag.customer_id).where(
                CustomerTag.tag_id.in_(_tag_ids(session, spec.tags_any)))
        ))
    if spec.tags_all:
        ids = _tag_ids(session, spec.tags_all)
        having_all = (
            select(CustomerTag.customer_id)
            .where(CustomerTag.tag_id.in_(ids))
            .group_by(CustomerTag.customer_id)
            .having(func.count() == len(set(spec.tags_all)))
        )
        stmt = stmt.where(Customer.id.in_(having_all) if len(ids) == len(set(spec.tags_all))
                          else false())
    if spec.tags_none:
        stmt = stmt.where(Customer.id.not_in(
            select(CustomerTag.customer_id).where(
                CustomerTag.tag_id.in_(_tag_ids(session, spec.tags_none)))
        ))
    return stmt.order_by(Customer.id)


def _feature_filter(spec: SegmentFilter, features: ir.Table) -> set[str]:
    table = features
    if spec.value_tiers:
        table = table.filter(table.value_tier.isin(spec.value_tiers))
    if spec.rfm_segments:
        table = table.filter(table.rfm_segment.isin(spec.rfm_segments))
    if spec.expression:
        return matching(table, spec.expression, tag="segment expression")
    return set(table.select("customer_id").to_pyarrow().column("customer_id").to_pylist())


def members(
    session: Session,
    spec: SegmentFilter,
    *,
    actor: Actor,
    features: ir.Table | pd.DataFrame | None = None,
) -> list[str]:
    """Ids of the customers matching ``spec`` that ``actor`` may see, sorted; never erased."""
    ids = list(session.scalars(_store_query(session, spec, actor)))
    if spec.needs_features() and ids:
        table = as_table(features if features is not None else features_from_store(session))
        keep = _feature_filter(spec, table)
        ids = [c for c in ids if c in keep]
    return ids


def segment_members(
    session: Session,
    segment: int | str,
    *,
    actor: Actor,
    features: ir.Table | pd.DataFrame | None = None,
) -> list[str]:
    """Ids of the members of a saved segment (by id or name) that ``actor`` may see."""
    row = get_segment(session, segment)
    return members(session, parse_definition(row.definition), actor=actor, features=features)


def segment_size(
    session: Session,
    segment: int | str,
    *,
    actor: Actor,
    features: ir.Table | pd.DataFrame | None = None,
) -> int:
    """The number of members of a saved segment that ``actor`` may see."""
    return len(segment_members(session, segment, actor=actor, features=features))


# -- export ---------------------------------------------------------------------------------


def _audience(session: Session, ids: list[str]) -> pd.DataFrame:
    rows: list[tuple] = []
    for start in range(0, len(ids), 500):  # stay under SQLite's parameter limit
        chunk = ids[start:start + 500]
        rows += session.execute(
            select(Customer.id, Customer.name, CustomerStage.stage, Customer.owner,
                   Customer.phone, Customer.email)
            .outerjoin(CustomerStage, CustomerStage.customer_id == Customer.id)
            .where(Customer.id.in_(chunk))
        ).all()
    frame = pd.DataFrame(rows, columns=["customer_id", "name", "stage", "owner", "phone", "email"])
    tags = pd.DataFrame(
        session.execute(
            select(CustomerTag.customer_id, Tag.name).join(Tag, Tag.id == CustomerTag.tag_id)
        ).all(),
        columns=["customer_id", "tag"],
    )
    joined = tags.sort_values("tag").groupby("customer_id")["tag"].agg(" ".join).to_dict()
    frame["tags"] = [joined.get(c, "") for c in frame["customer_id"]]
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def export_segment_csv(
    session: Session,
    segment: int | str,
    *,
    actor: Actor,
    purpose: str,
    channel: str,
    path: Path,
    as_of: date | datetime,
    unmask: bool = False,
    locale: str = "en",
    features: ir.Table | pd.DataFrame | None = None,
    now: datetime | None = None,
) -> ExportReport:
    """Write the audience of ``segment`` for ``purpose`` over ``channel`` to ``path`` (CSV).

    Only members with consent in force at ``as_of`` are written; erased customers never are.
    Contacts are masked unless ``unmask`` (which needs ``contacts:unmask``). The file is
    UTF-8 with a BOM (Excel reads the Chinese correctly), written whole or not at all.
    """
    if unmask:
        actor.require("contacts:unmask")
    now = now or utcnow()
    path = Path(path)
    with transaction(session):
        row = get_segment(session, segment)
        spec = parse_definition(row.definition)
        ids = members(session, spec, actor=actor, features=features)
        allowed = consenting(session, customer_ids=None, purpose=purpose, channel=channel,
                             as_of=as_of)
        audience = [c for c in ids if c in allowed]
        frame = _audience(session, audience)
        erased = _erased_members(session, spec, actor=actor)
        if not unmask:
            frame["phone"] = frame["phone"].map(mask_phone)
            frame["email"] = frame["email"].map(mask_email)
        _write_csv(frame, path, locale=locale)
        record(session, actor=actor, action="segment_export", entity="segment",
               entity_id=row.id,
               after={"segment": row.name, "purpose": purpose, "channel": channel,
                      "rows": len(frame), "members": len(ids), "unmasked": unmask,
                      "file": str(path)},
               at=now)
        if unmask and len(frame):
            record_many(session, actor=actor, at=now, rows=pd.DataFrame({
                "action": "read_unmasked", "entity": "customer",
                "entity_id": frame["customer_id"], "customer_id": frame["customer_id"],
                "before": None,
                "after": to_json({"fields": ["phone", "email"], "via": f"segment {row.name}"}),
            }))
    return ExportReport(path=path, rows=len(frame), members=len(ids),
                        excluded_no_consent=len(ids) - len(audience), excluded_erased=erased,
                        unmasked=unmask)


def _erased_members(session: Session, spec: SegmentFilter, *, actor: Actor) -> int:
    """How many erased customers the store-side criteria match (left out, for the report)."""
    stmt = _store_query(session, spec, actor, erased=True).order_by(None)
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def _write_csv(frame: pd.DataFrame, path: Path, *, locale: str) -> None:
    from clm.domain.i18n import normalize_locale

    lang = normalize_locale(locale)
    header = [LABELS[f"segments.column.{c}"][lang] for c in EXPORT_COLUMNS]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(frame[list(EXPORT_COLUMNS)].astype(object).where(
            frame[list(EXPORT_COLUMNS)].notna(), "").itertuples(index=False, name=None))
    os.replace(partial, path)
