"""The per-customer dynamic tracking record (动态跟踪表, spec section 4) in one read.

One call gathers what a salesperson needs before picking up the phone: the basic record with
contacts masked (unless the reader holds ``contacts:unmask`` and asks; that read is audited by
``users.customer_card``), the current stage with the date it began and the stage before, the
transition timeline with reasons, the core metrics the last engine run stored
(``customer_metrics``), key behaviour notes drawn from those metrics, the stage's strategy from
the playbook in force and the responsible person, the follow-ups and the next plan.

Everything is read in one transaction, so the sections agree with each other. The playbook in
force is parsed once per version (its content hash keys a small cache), not on every read.

``record_json`` is the same record as JSON bytes, what the API answers. On PostgreSQL it is one
statement (``clm.services.reads``): the row of the customer with their stage, owner, metrics and
the playbook version in force, and each list (timeline, tags, follow-ups, open tasks)
aggregated to JSON by the database; a single statement reads one snapshot, so the sections
agree without a transaction. That is one round trip instead of about a dozen ORM queries,
which at 50 concurrent clients was most of the server's time. Elsewhere (SQLite) it
serialises ``tracking_record``. A test keeps the two equal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from clm.errors import NotFoundError
from clm.services.actors import Actor
from clm.services.audit import record as audit
from clm.services.audit import transaction
from clm.services.customers import _reasons, transition_rows
from clm.services.playbooks import Playbook, parse_playbook
from clm.services.reads import dumps, fetch, is_postgresql
from clm.services.users import customer_card, mask_email, mask_phone
from clm.store.tables import (
    Customer,
    CustomerMetrics,
    CustomerStage,
    CustomerTag,
    FollowUp,
    PlaybookVersion,
    Tag,
    Task,
    User,
)

FOLLOW_UP_LIMIT = 50
OPEN_TASK_LIMIT = 50
METRIC_FIELDS = (
    "as_of",
    "order_count",
    "total_spend",
    "avg_order_value",
    "first_order_date",
    "last_order_date",
    "days_since_last_order",
    "active_days_30d",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "value_tier",
    "clv",
    "p_alive",
    "expected_purchases",
)

# Key behaviour notes (spec s. 4: "referred 2 customers in 3 months, satisfaction 9.5"):
# feature -> (does this value deserve a note?, English text, Chinese text).
NOTES: dict[str, tuple[Any, str, str]] = {
    "referrals_90d": (lambda v: v > 0, "Referred {v} customer(s) in the last 90 days",
                      "近90天推荐了{v}位客户"),
    "satisfaction_latest": (lambda v: True, "Latest satisfaction score {v}", "最近一次满意度 {v}"),
    "nps_latest": (lambda v: True, "Latest NPS answer {v}", "最近一次NPS评分 {v}"),
    "complaints_90d": (lambda v: v > 0, "{v} complaint(s) in the last 90 days",
                       "近90天投诉{v}次"),
    "usage_change_pct": (lambda v: v <= -0.3 or v >= 0.3,
                         "Usage {v:+.0%} against the 30 days before",
                         "使用量较前30天变化 {v:+.0%}"),
    "support_contacts_change_pct": (lambda v: v <= -0.3,
                                    "Support contacts {v:+.0%} against the 30 days before",
                                    "客服联系次数较前30天变化 {v:+.0%}"),
    "repurchases_30d": (lambda v: v >= 2, "{v} repurchases in the last 30 days",
                        "近30天复购{v}次"),
    "marketing_events_90d": (lambda v: v > 0, "Joined {v} marketing event(s) in 90 days",
                             "近90天参加{v}次营销活动"),
    "unsubscribed": (lambda v: bool(v), "Unsubscribed from e-mail", "已退订邮件"),
    "account_closed": (lambda v: bool(v), "Closed the account", "已注销账户"),
}


def _active_playbook(session: Session) -> tuple[Playbook, int] | None:
    head = session.execute(
        select(PlaybookVersion.id, PlaybookVersion.version_hash)
        .order_by(PlaybookVersion.activated_at.desc(), PlaybookVersion.id.desc())
        .limit(1)
    ).first()
    if head is None:
        return None
    version_id, version_hash = head
    return _cached(session, version_id, version_hash), version_id


_BY_HASH: dict[str, Playbook] = {}  # parsed playbooks by content hash (content never changes)


def _cached(session: Session, version_id: int, version_hash: str) -> Playbook:
    return _parsed(
        version_id,
        version_hash,
        lambda: session.scalar(
            select(PlaybookVersion.content).where(PlaybookVersion.id == version_id)
        ),
    )


def _parsed(version_id: int, version_hash: str, content: Callable[[], str | None]) -> Playbook:
    playbook = _BY_HASH.get(version_hash)
    if playbook is None:
        playbook = parse_playbook(content(), file=f"playbook version {version_id}")
        if len(_BY_HASH) > 16:
            _BY_HASH.clear()
        _BY_HASH[version_hash] = playbook
    return playbook


def behaviour_notes(features: dict[str, Any]) -> list[dict[str, Any]]:
    """Notes worth reading before a call, each in en and zh-CN, from the stored features."""
    notes = []
    for name, (worth, en, zh) in NOTES.items():
        value = features.get(name)
        if value is None or isinstance(value, str):
            continue
        try:
            if not worth(value):
                continue
            text = {"en": en.format(v=value), "zh-CN": zh.format(v=value)}
        except (TypeError, ValueError):
            continue
        notes.append({"kind": name, "value": value, "text": text})
    return notes


def _metrics(session: Session, customer_id: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    row = session.get(CustomerMetrics, customer_id)
    if row is None:
        return None, {}
    values = {name: getattr(row, name) for name in METRIC_FIELDS}
    return _metrics_of(values, row.feature_usage, row.features)


def _metrics_of(
    values: dict[str, Any], feature_usage: str | None, features: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The metrics section and the features the notes are drawn from (stored as JSON text)."""
    parsed = json.loads(features) if features else {}
    metrics = dict(values)
    metrics["feature_usage"] = json.loads(feature_usage) if feature_usage else {}
    return metrics, parsed if isinstance(parsed, dict) else {}


def _strategy(session: Session, stage: str | None) -> dict[str, Any] | None:
    return _strategy_of(_active_playbook(session), stage)


def _strategy_of(found: tuple[Playbook, int] | None, stage: str | None) -> dict[str, Any] | None:
    if found is None or stage is None or stage not in found[0].stages:
        return None
    playbook, version_id = found
    spec = playbook.stages[stage]
    return {
        "playbook": playbook.name,
        "playbook_version_id": version_id,
        "stage": stage,
        "goal": dict(spec.goal),
        "actions": [dict(a) for a in spec.actions],
        "owner_roles": list(spec.owner_roles),
        "cadence": str(spec.cadence),
    }


def _owner(session: Session, customer: Customer) -> dict[str, Any]:
    user = session.get(User, customer.owner_user_id) if customer.owner_user_id else None
    return {
        "name": user.name if user else customer.owner,
        "user_id": user.id if user else None,
        "login": user.login if user else None,
        "role": user.role if user else None,
    }


def _follow_ups(session: Session, customer_id: str, limit: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(FollowUp)
        .where(FollowUp.customer_id == customer_id)
        .order_by(FollowUp.occurred_on.desc(), FollowUp.id.desc())
        .limit(limit)
    )
    return [
        {
            "id": f.id,
            "occurred_on": f.occurred_on,
            "channel": f.channel,
            "summary": f.summary,
            "outcome": f.outcome,
            "next_date": f.next_date,
            "next_purpose": f.next_purpose,
            "next_task_id": f.next_task_id,
            "recorded_by": f.recorded_by,
        }
        for f in rows
    ]


def _open_tasks(session: Session, customer_id: str, limit: int) -> list[Task]:
    return list(
        session.scalars(
            select(Task)
            .where(Task.customer_id == customer_id, Task.status == "open")
            .order_by(Task.due_on, Task.id)
            .limit(limit)
        )
    )


def tracking_record(
    session: Session,
    *,
    actor: Actor,
    customer_id: str,
    unmask: bool = False,
    follow_up_limit: int = FOLLOW_UP_LIMIT,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The tracking record of one visible customer (spec section 4), as JSON-ready data.

    Sections: ``customer`` (basic info, contacts masked unless ``unmask``), ``stage``,
    ``timeline``, ``metrics`` (``None`` before the first engine run stored them), ``notes``,
    ``strategy`` (``None`` without a playbook for the stage), ``owner``, ``tags``,
    ``follow_ups`` (newest first), ``next_follow_up`` (the earliest open task) and
    ``open_tasks``.
    """
    with transaction(session):
        card = customer_card(
            session, actor=actor, customer_id=customer_id, unmask=unmask, now=now
        )
        customer = session.get(Customer, customer_id)
        stage_row = session.get(CustomerStage, customer_id)
        metrics, features = _metrics(session, customer_id)
        open_tasks = _open_tasks(session, customer_id, OPEN_TASK_LIMIT)
        tags = session.execute(
            select(Tag.name, Tag.label_en, Tag.label_zh, CustomerTag.source)
            .join(CustomerTag, CustomerTag.tag_id == Tag.id)
            .where(CustomerTag.customer_id == customer_id)
            .order_by(Tag.name)
        ).all()
        stage = (
            {
                "stage": stage_row.stage,
                "since": stage_row.stage_since,
                "previous_stage": stage_row.previous_stage,
                "grey_zone": bool(stage_row.grey_zone),
                "reasons": _reasons(stage_row.reasons),
                "model_version": stage_row.model_version,
                "synced_on": stage_row.synced_on,
            }
            if stage_row
            else None
        )
        record = {
            "customer": card,
            "stage": stage,
            "timeline": transition_rows(session, customer_id),
            "metrics": metrics,
            "notes": behaviour_notes(features),
            "strategy": _strategy(session, stage_row.stage if stage_row else None),
            "owner": _owner(session, customer),
            "tags": [
                {"name": n, "label": {"en": en, "zh-CN": zh}, "source": src}
                for n, en, zh, src in tags
            ],
            "follow_ups": _follow_ups(session, customer_id, follow_up_limit),
            "next_follow_up": _task_brief(open_tasks[0]) if open_tasks else None,
            "open_tasks": [_task_brief(t) for t in open_tasks],
        }
    return record


def _task_brief(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "kind": task.kind,
        "title": {"en": task.title, "zh-CN": task.title_zh or task.title},
        "due_on": task.due_on,
        "assignee_id": task.assignee_id,
        "origin": task.origin,
        "version": task.version,
    }


# -- the record as JSON, in one statement on PostgreSQL ----------------------------------------

_CARD = (
    "c.id, c.name, c.industry, c.owner, c.owner_user_id, c.acquisition_channel, c.signup_date, "
    "c.erased, c.phone, c.email"
)
_STAGE = (
    "s.stage, s.stage_since, s.previous_stage, s.grey_zone, s.reasons, s.model_version, "
    "s.synced_on"
)
RECORD_SQL = f"""
SELECT {_CARD}, s.customer_id IS NOT NULL, {_STAGE}, u.id, u.name, u.login, u.role,
  m.customer_id IS NOT NULL, {", ".join("m." + f for f in METRIC_FIELDS)},
  m.feature_usage, m.features, pv.id, pv.version_hash,
  (SELECT coalesce(json_agg(json_build_object(
      'changed_on', t.changed_on, 'from_stage', t.from_stage, 'to_stage', t.to_stage,
      'reasons', t.reasons, 'model_version', t.model_version, 'run_id', t.run_id)
      ORDER BY t.changed_on, t.id), '[]')
    FROM stage_transitions t WHERE t.customer_id = c.id)::text,
  (SELECT coalesce(json_agg(json_build_object(
      'name', g.name, 'label', json_build_object('en', g.label_en, 'zh-CN', g.label_zh),
      'source', ct.source) ORDER BY g.name), '[]')
    FROM customer_tags ct JOIN tags g ON g.id = ct.tag_id WHERE ct.customer_id = c.id)::text,
  (SELECT coalesce(json_agg(f ORDER BY f.occurred_on DESC, f.id DESC), '[]') FROM (
      SELECT id, occurred_on, channel, summary, outcome, next_date, next_purpose, next_task_id,
        recorded_by
      FROM follow_ups WHERE customer_id = c.id
      ORDER BY occurred_on DESC, id DESC LIMIT %(follow_ups)s) f)::text,
  (SELECT coalesce(json_agg(json_build_object(
      'id', k.id, 'kind', k.kind,
      'title', json_build_object('en', k.title, 'zh-CN', coalesce(nullif(k.title_zh, ''), k.title)),
      'due_on', k.due_on, 'assignee_id', k.assignee_id, 'origin', k.origin, 'version', k.version)
      ORDER BY k.due_on, k.id), '[]') FROM (
      SELECT id, kind, title, title_zh, due_on, assignee_id, origin, version
      FROM tasks WHERE customer_id = c.id AND status = 'open'
      ORDER BY due_on, id LIMIT %(tasks)s) k)::text
FROM customers c
LEFT JOIN customer_stage s ON s.customer_id = c.id
LEFT JOIN users u ON u.id = c.owner_user_id
LEFT JOIN customer_metrics m ON m.customer_id = c.id
LEFT JOIN LATERAL (
  SELECT id, version_hash FROM playbook_versions ORDER BY activated_at DESC, id DESC LIMIT 1
) pv ON true
WHERE c.id = %(customer_id)s AND (%(everyone)s OR c.owner_user_id = %(user_id)s)
"""
_N_CARD, _N_STAGE, _N_METRICS = 10, 7, len(METRIC_FIELDS)


def record_json(
    session: Session,
    *,
    actor: Actor,
    customer_id: str,
    unmask: bool = False,
    follow_up_limit: int = FOLLOW_UP_LIMIT,
    now: datetime | None = None,
) -> bytes:
    """``tracking_record`` as JSON bytes; one statement on PostgreSQL (see the module doc).

    Same checks as ``tracking_record``: a customer the actor may not see does not exist, an
    unmasked read needs ``contacts:unmask`` and is audited in the same transaction.
    """
    if not is_postgresql(session):
        return dumps(
            tracking_record(
                session,
                actor=actor,
                customer_id=customer_id,
                unmask=unmask,
                follow_up_limit=follow_up_limit,
                now=now,
            )
        )
    if unmask:
        actor.require("contacts:unmask")
    params = {
        "customer_id": customer_id,
        "everyone": actor.can("customers:all"),
        "user_id": actor.user_id,
        "follow_ups": follow_up_limit,
        "tasks": OPEN_TASK_LIMIT,
    }
    if unmask:
        with transaction(session):
            row = _record_row(session, params, customer_id)
            audit(
                session,
                actor=actor,
                action="read_unmasked",
                entity="customer",
                entity_id=customer_id,
                customer_id=customer_id,
                after={"fields": ["phone", "email"]},
                at=now,
            )
    else:
        row = _record_row(session, params, customer_id)
    version_id, version_hash = row[-6], row[-5]
    playbook = (
        None
        if version_id is None
        else _parsed(
            version_id,
            version_hash,
            lambda: session.scalar(
                select(PlaybookVersion.content).where(PlaybookVersion.id == version_id)
            ),
        )
    )
    found = None if playbook is None else (playbook, version_id)
    return dumps(_assemble(row, unmask=unmask, found=found))


def _record_row(session: Session, params: dict[str, Any], customer_id: str) -> tuple[Any, ...]:
    rows = fetch(session, RECORD_SQL, params)
    if not rows:  # not found and not yours look the same: no probing for ids
        raise NotFoundError(f"customer {customer_id!r} does not exist", field="customer_id")
    return rows[0]


def _assemble(row: Any, *, unmask: bool, found: tuple[Playbook, int] | None) -> dict[str, Any]:
    """The record from ``RECORD_SQL``'s row, in ``tracking_record``'s shape."""
    cid, name, industry, owner, owner_user_id, channel, signup, erased, phone, email = row[:10]
    at = _N_CARD
    has_stage = row[at]
    stage_name, since, previous, grey, reasons, model_version, synced_on = row[at + 1 : at + 8]
    at += 1 + _N_STAGE
    user_id, user_name, login, role = row[at : at + 4]
    at += 4
    has_metrics = row[at]
    values = dict(zip(METRIC_FIELDS, row[at + 1 : at + 1 + _N_METRICS], strict=True))
    at += 1 + _N_METRICS
    usage, features_text = row[at], row[at + 1]
    timeline, tags, follow_ups, open_tasks = (orjson.loads(text) for text in row[-4:])
    metrics, features = (
        _metrics_of(values, usage, features_text) if has_metrics else (None, {})
    )
    for change in timeline:
        change["reasons"] = _reasons(change["reasons"])
    return {
        "customer": {
            "customer_id": cid,
            "name": name,
            "industry": industry,
            "owner": owner,
            "owner_user_id": owner_user_id,
            "acquisition_channel": channel,
            "signup_date": signup,
            "erased": erased,
            "phone": phone if unmask else mask_phone(phone),
            "email": email if unmask else mask_email(email),
            "contacts_masked": not unmask,
            "stage": stage_name if has_stage else None,
            "stage_since": since if has_stage else None,
        },
        "stage": (
            {
                "stage": stage_name,
                "since": since,
                "previous_stage": previous,
                "grey_zone": bool(grey),
                "reasons": _reasons(reasons),
                "model_version": model_version,
                "synced_on": synced_on,
            }
            if has_stage
            else None
        ),
        "timeline": timeline,
        "metrics": metrics,
        "notes": behaviour_notes(features),
        "strategy": _strategy_of(found, stage_name if has_stage else None),
        "owner": {
            "name": user_name if user_id is not None else owner,
            "user_id": user_id,
            "login": login,
            "role": role,
        },
        "tags": tags,
        "follow_ups": follow_ups,
        "next_follow_up": open_tasks[0] if open_tasks else None,
        "open_tasks": open_tasks,
    }
