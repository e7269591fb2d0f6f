"""Strategy effectiveness: does each stage's strategy move customers the way it should?

Spec section 5 asks that every stage strategy's effect be measured (win-back rate, repurchase
uplift) and that an underperforming one be flagged for review (复盘), e.g. a declining-stage
win-back rate under 10%. Measured here, per stage and per playbook version in force when the
customer entered the stage, from the store's ``stage_transitions``:

* an *entry* is a transition into the stage dated within ``[start, end]``;
* its outcome is read from the same customer's later transitions within ``window_days`` (same
  model version). Entries whose window reaches past the data (``as_of``, the last sync date)
  are *pending*, counted but left out of every rate: a customer who entered yesterday has not
  yet had the chance to be won back (right-censoring, as in any cohort retention measure);
* win-back rate: share of entries into a win-back stage (``declining``) that reach a
  ``growing`` or ``mature`` stage within the window; activation rate: share of entries into
  ``new`` that reach ``growing`` (or ``mature``); churn rate: share that reach ``churned``;
* repurchase uplift (when orders are given): the share of entrants with a paid order in the
  ``window_days`` after entry, minus the share with one in the ``window_days`` up to entry, a
  pre/post comparison in percentage points (no control group: it shows a change, not its cause).

Thresholds are options (``Thresholds``); by default only a win-back rate under 10% is flagged,
and only once at least ``min_entries`` entries are observed, so that three customers do not
trigger a review. ``raise_review_alerts`` turns flagged strategies into a ``review`` task for
each manager, once: a finding already raised, or a strategy whose review is still open, raises
nothing new.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clm.domain.i18n import normalize_locale, t
from clm.errors import InputError
from clm.services.actors import Actor
from clm.services.audit import record, transaction
from clm.services.tasks import task_snapshot
from clm.store.bulk import as_utc, utcnow
from clm.store.tables import (
    AuditEntry,
    CustomerStage,
    PlaybookVersion,
    StageTransition,
    StrategyReview,
    Task,
    User,
)

METRICS = ("win_back_rate", "activation_rate", "churn_rate", "repurchase_uplift")

# Labels of metrics and alert texts, in both languages (a test checks both exist).
LABELS: dict[str, dict[str, str]] = {
    "effectiveness.win_back_rate": {"en": "win-back rate", "zh-CN": "挽回率"},
    "effectiveness.activation_rate": {"en": "activation rate", "zh-CN": "激活率"},
    "effectiveness.churn_rate": {"en": "churn rate", "zh-CN": "流失率"},
    "effectiveness.repurchase_uplift": {"en": "repurchase uplift", "zh-CN": "复购提升"},
    "effectiveness.review_title": {
        "en": "Review the {stage} strategy: {findings}",
        "zh-CN": "复盘{stage}阶段策略：{findings}",
    },
    "effectiveness.no_playbook": {"en": "no playbook", "zh-CN": "无策略手册"},
}


def label(key: str, locale: str = "en", **values: object) -> str:
    text = LABELS[key][normalize_locale(locale)]
    return text.format(**values) if values else text


@dataclass(frozen=True)
class StageRoles:
    """Which stages each measure is about; change these for another stage model."""

    win_back_from: tuple[str, ...] = ("declining",)
    win_back_to: tuple[str, ...] = ("growing", "mature")
    activation_from: tuple[str, ...] = ("new",)
    activation_to: tuple[str, ...] = ("growing", "mature")
    churned: tuple[str, ...] = ("churned",)


@dataclass(frozen=True)
class Thresholds:
    """When a strategy is flagged; ``None`` switches a check off. Rates are fractions."""

    min_win_back_rate: float | None = 0.10
    min_activation_rate: float | None = None
    max_churn_rate: float | None = None
    min_repurchase_uplift: float | None = None
    min_entries: int = 10

    def __post_init__(self) -> None:
        for name in ("min_win_back_rate", "min_activation_rate", "max_churn_rate"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise InputError(f"{name} must be between 0 and 1, not {value}", field=name)
        if self.min_entries < 1:
            raise InputError("min_entries must be at least 1", field="min_entries")


@dataclass(frozen=True)
class StrategyRow:
    """The measures of one stage's strategy under one playbook version."""

    stage: str
    playbook_version_id: int | None
    entries: int
    observed: int
    pending: int
    win_back_rate: float | None
    activation_rate: float | None
    churn_rate: float | None
    repurchase_before: float | None
    repurchase_after: float | None
    repurchase_uplift: float | None
    flags: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["flags"] = list(self.flags)
        out["flagged"] = self.flagged
        return out


@dataclass
class EffectivenessReport:
    start: date
    end: date
    window_days: int
    as_of: date | None
    model_version: str | None
    thresholds: Thresholds
    rows: list[StrategyRow] = field(default_factory=list)

    @property
    def flagged(self) -> list[StrategyRow]:
        return [r for r in self.rows if r.flagged]

    def to_frame(self) -> pd.DataFrame:
        columns = [*StrategyRow.__dataclass_fields__, "flagged"]
        return pd.DataFrame([r.as_dict() for r in self.rows], columns=columns)

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "window_days": self.window_days,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "model_version": self.model_version,
            "thresholds": asdict(self.thresholds),
            "rows": [r.as_dict() for r in self.rows],
        }


# -- reading the store ----------------------------------------------------------------------


def _current_model_version(session: Session) -> str | None:
    row = session.execute(
        select(CustomerStage.model_version, func.count().label("n"))
        .group_by(CustomerStage.model_version)
        .order_by(func.count().desc(), CustomerStage.model_version)
        .limit(1)
    ).first()
    if row is not None:
        return row[0]
    return session.scalar(
        select(StageTransition.model_version)
        .order_by(StageTransition.changed_on.desc(), StageTransition.id.desc())
        .limit(1)
    )


def _transitions(
    session: Session, *, model_version: str, start: date, until: date
) -> pd.DataFrame:
    rows = session.execute(
        select(StageTransition.customer_id, StageTransition.to_stage, StageTransition.changed_on)
        .where(
            StageTransition.model_version == model_version,
            StageTransition.changed_on >= start,
            StageTransition.changed_on <= until,
        )
        .order_by(StageTransition.customer_id, StageTransition.changed_on)
    ).all()
    frame = pd.DataFrame(rows, columns=["customer_id", "to_stage", "changed_on"])
    frame["changed_on"] = pd.to_datetime(frame["changed_on"])
    return frame


def _activations(session: Session) -> pd.DataFrame:
    """Every moment a playbook version came into force, oldest first.

    ``playbook_versions.activated_at`` keeps only the latest activation of each version, so the
    audit trail's ``activate`` rows give the history; creation times fill in for versions stored
    without one.
    """
    moments: list[tuple[datetime, int]] = []
    for at, entity_id in session.execute(
        select(AuditEntry.at, AuditEntry.entity_id).where(
            AuditEntry.action == "activate", AuditEntry.entity == "playbook"
        )
    ):
        if entity_id and entity_id.isdigit():
            moments.append((as_utc(at), int(entity_id)))
    for created, activated, version_id in session.execute(
        select(PlaybookVersion.created_at, PlaybookVersion.activated_at, PlaybookVersion.id)
    ):
        moments += [(as_utc(created), version_id), (as_utc(activated), version_id)]
    frame = pd.DataFrame(moments, columns=["at", "playbook_version_id"])
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame.drop_duplicates().sort_values(["at", "playbook_version_id"]).reset_index(
        drop=True
    )


def _version_at_entry(entries: pd.DataFrame, activations: pd.DataFrame) -> pd.Series:
    """The playbook version in force at the end of each entry's day (NA before any)."""
    if activations.empty or entries.empty:
        return pd.Series(pd.NA, index=entries.index, dtype="Int64")
    moments = pd.DataFrame({
        "entry_id": entries["entry_id"].to_numpy(),
        "at": (entries["changed_on"] + pd.Timedelta(days=1)).dt.tz_localize(UTC)
        - pd.Timedelta(microseconds=1),
    }).sort_values("at")
    merged = pd.merge_asof(moments, activations, on="at", direction="backward")
    by_entry = merged.set_index("entry_id")["playbook_version_id"].astype("Int64")
    return entries["entry_id"].map(by_entry).astype("Int64")


def _repurchases(
    orders: ir.Table | pd.DataFrame, entries: pd.DataFrame, window: int
) -> pd.DataFrame:
    """Per entry: a paid order in the window before entry (``before``) and after (``after``)."""
    table = orders if isinstance(orders, ir.Table) else ibis.memtable(orders)
    missing = {"customer_id", "ordered_at"} - set(table.columns)
    if missing:
        raise InputError(f"orders: missing column(s) {', '.join(sorted(missing))}",
                         table="orders", field=sorted(missing)[0])
    if "status" in table.columns:
        table = table.filter(table.status == "paid")
    day = pd.Timedelta(days=1)
    frame = pd.DataFrame({
        "entry_id": entries["entry_id"].astype("int64"),
        "cid": entries["customer_id"].astype(str),
        "lo": entries["changed_on"] - pd.Timedelta(days=window) + day,
        "mid": entries["changed_on"] + day,
        "hi": entries["changed_on"] + pd.Timedelta(days=window) + day,
    })
    e = ibis.memtable(frame)
    j = e.join(table, e.cid == table.customer_id)
    at = j.ordered_at.cast("timestamp")
    result = j.group_by("entry_id").aggregate(
        before=ibis.ifelse((at >= j.lo) & (at < j.mid), 1, 0).max(),
        after=ibis.ifelse((at >= j.mid) & (at < j.hi), 1, 0).max(),
    ).to_pandas()
    out = frame[["entry_id"]].merge(result, on="entry_id", how="left").fillna(0)
    return out.astype({"before": bool, "after": bool})


# -- the measure ----------------------------------------------------------------------------


def strategy_effectiveness(
    session: Session,
    *,
    start: date,
    end: date,
    window_days: int = 90,
    thresholds: Thresholds | None = None,
    roles: StageRoles | None = None,
    orders: ir.Table | pd.DataFrame | None = None,
    as_of: date | None = None,
    model_version: str | None = None,
) -> EffectivenessReport:
    """Measure each stage's strategy over entries dated ``start`` to ``end`` (inclusive).

    Parameters
    ----------
    window_days
        How long after entering a stage an outcome counts (N in "won back within N days").
    thresholds, roles
        When to flag, and which stages each measure concerns (defaults: ``Thresholds()``,
        ``StageRoles()`` for the default stage model).
    orders
        Orders (``customer_id``, ``ordered_at``, optionally ``status``) for the repurchase
        measures; without them those columns are empty.
    as_of
        The date the transitions are known up to; default the last sync date in the store.
    model_version
        Whose transitions to read; default the model version of the current stages.
    """
    if end < start:
        raise InputError(f"end {end} is before start {start}", field="end")
    if window_days < 1:
        raise InputError("window_days must be at least 1", field="window_days")
    thresholds, roles = thresholds or Thresholds(), roles or StageRoles()
    with transaction(session):
        as_of = as_of or session.scalar(select(func.max(CustomerStage.synced_on)))
        model_version = model_version or _current_model_version(session)
        report = EffectivenessReport(start=start, end=end, window_days=window_days, as_of=as_of,
                                     model_version=model_version, thresholds=thresholds)
        if as_of is None or model_version is None:
            return report
        until = min(end + timedelta(days=window_days), as_of)
        moves = _transitions(session, model_version=model_version, start=start, until=until)
        activations = _activations(session)
    entries = moves[moves["changed_on"] <= pd.Timestamp(end)].reset_index(drop=True)
    if entries.empty:
        return report
    entries.insert(0, "entry_id", range(len(entries)))
    window = pd.Timedelta(days=window_days)
    entries["observed"] = entries["changed_on"] + window <= pd.Timestamp(as_of)
    entries["playbook_version_id"] = _version_at_entry(entries, activations)
    outcomes = _outcomes(entries, moves, window=window, roles=roles)
    entries = entries.merge(outcomes, on="entry_id", how="left")
    if orders is not None:
        seen = entries[entries["observed"]]
        entries = entries.merge(_repurchases(orders, seen, window_days), on="entry_id",
                                how="left")
    report.rows = _rows(entries, roles=roles, thresholds=thresholds, with_orders=orders is not None)
    return report


def _outcomes(
    entries: pd.DataFrame, moves: pd.DataFrame, *, window: pd.Timedelta, roles: StageRoles
) -> pd.DataFrame:
    """Per entry: did the customer reach a win-back, activation or churn stage in the window."""
    later = entries[["entry_id", "customer_id", "changed_on"]].merge(
        moves, on="customer_id", suffixes=("", "_later")
    )
    later = later[
        (later["changed_on_later"] > later["changed_on"])
        & (later["changed_on_later"] <= later["changed_on"] + window)
    ]
    reached = pd.DataFrame({
        "entry_id": later["entry_id"],
        "won_back": later["to_stage"].isin(roles.win_back_to),
        "activated": later["to_stage"].isin(roles.activation_to),
        "churned": later["to_stage"].isin(roles.churned),
    }).groupby("entry_id").any()
    out = entries[["entry_id"]].merge(reached, left_on="entry_id", right_index=True, how="left")
    return out.fillna(False).astype({"won_back": bool, "activated": bool, "churned": bool})


def _rate(flags: pd.Series) -> float | None:
    return None if flags.empty else round(float(flags.mean()), 4)


def _rows(
    entries: pd.DataFrame, *, roles: StageRoles, thresholds: Thresholds, with_orders: bool
) -> list[StrategyRow]:
    rows = []
    keyed = entries.assign(pv=entries["playbook_version_id"].fillna(-1).astype(int))
    for (stage, pv), group in keyed.groupby(["to_stage", "pv"], sort=True):
        seen = group[group["observed"]]
        win = _rate(seen["won_back"]) if stage in roles.win_back_from else None
        act = _rate(seen["activated"]) if stage in roles.activation_from else None
        churn = _rate(seen["churned"]) if stage not in roles.churned else None
        before = after = uplift = None
        if with_orders and not seen.empty:
            before, after = _rate(seen["before"].astype(bool)), _rate(seen["after"].astype(bool))
            uplift = round(after - before, 4)
        flags: list[str] = []
        if len(seen) >= thresholds.min_entries:
            checks = (
                ("win_back_rate", win, thresholds.min_win_back_rate, False),
                ("activation_rate", act, thresholds.min_activation_rate, False),
                ("churn_rate", churn, thresholds.max_churn_rate, True),
                ("repurchase_uplift", uplift, thresholds.min_repurchase_uplift, False),
            )
            for metric, value, limit, upper in checks:
                if value is not None and limit is not None and (
                    value > limit if upper else value < limit
                ):
                    flags.append(metric)
        rows.append(StrategyRow(
            stage=str(stage), playbook_version_id=None if pv < 0 else int(pv),
            entries=len(group), observed=len(seen), pending=len(group) - len(seen),
            win_back_rate=win, activation_rate=act, churn_rate=churn,
            repurchase_before=before, repurchase_after=after, repurchase_uplift=uplift,
            flags=tuple(flags),
        ))
    return rows


# -- review alerts --------------------------------------------------------------------------


def _limit(thresholds: Thresholds, metric: str) -> float:
    return {
        "win_back_rate": thresholds.min_win_back_rate,
        "activation_rate": thresholds.min_activation_rate,
        "churn_rate": thresholds.max_churn_rate,
        "repurchase_uplift": thresholds.min_repurchase_uplift,
    }[metric]  # type: ignore[return-value]


def _finding(metric: str, value: float | None, limit: float, locale: str) -> str:
    op = ">" if metric == "churn_rate" else "<"
    return f"{label('effectiveness.' + metric, locale)} {value or 0:.1%} {op} {limit:.1%}"


def _stage_label(stage: str, locale: str) -> str:
    text = t(f"stage.{stage}", locale)
    return stage if text == f"stage.{stage}" else text


def review_key(row: StrategyRow, metric: str, report: EffectivenessReport) -> str:
    """The identity of one finding: a re-run with the same period finds the same key."""
    version = row.playbook_version_id if row.playbook_version_id is not None else "none"
    return (f"{row.stage}|{version}|{metric}|{report.start.isoformat()}|"
            f"{report.end.isoformat()}|{report.window_days}")


def _reviewers(session: Session) -> list[User]:
    for role in ("manager", "admin"):  # managers review; an admin stands in when there is none
        users = list(session.scalars(
            select(User).where(User.role == role, User.active.is_(True)).order_by(User.id)
        ))
        if users:
            return users
    return []


def raise_review_alerts(
    session: Session,
    report: EffectivenessReport,
    *,
    actor: Actor,
    due_on: date,
    now: datetime | None = None,
) -> list[Task]:
    """Open a ``review`` task for each active manager per flagged strategy; returns new tasks.

    Idempotent: each finding (stage, playbook version, metric, period, window) is recorded in
    ``strategy_reviews`` and raised once; while a review task of the same stage and playbook
    version is open, new findings are recorded but open no second task.
    """
    now = now or utcnow()
    opened: list[Task] = []
    with transaction(session):
        reviewers = _reviewers(session)
        for row in report.flagged:
            fresh = []
            for metric in row.flags:
                key = review_key(row, metric, report)
                if session.scalar(select(StrategyReview.id).where(StrategyReview.key == key)):
                    continue
                value = getattr(row, metric)
                review = StrategyReview(
                    key=key, stage=row.stage, playbook_version_id=row.playbook_version_id,
                    metric=metric, value=value, threshold=_limit(report.thresholds, metric),
                    period_start=report.start, period_end=report.end,
                    window_days=report.window_days, entries=row.observed, raised_at=now,
                )
                session.add(review)
                session.flush()
                record(session, actor=actor, action="flag", entity="strategy_review",
                       entity_id=review.id,
                       after={"key": key, "value": value, "threshold": review.threshold,
                              "entries": row.observed}, at=now)
                fresh.append(review)
            if not fresh or _open_review(session, row):
                continue
            opened += _open_tasks(session, row, fresh, reviewers, actor=actor, due_on=due_on,
                                  now=now)
    return opened


def _open_review(session: Session, row: StrategyRow) -> bool:
    version = (Task.playbook_version_id.is_(None) if row.playbook_version_id is None
               else Task.playbook_version_id == row.playbook_version_id)
    return bool(session.scalar(
        select(func.count()).select_from(Task).where(
            Task.kind == "review", Task.status == "open", Task.stage == row.stage, version
        )
    ))


def _open_tasks(
    session: Session, row: StrategyRow, reviews: list[StrategyReview], reviewers: list[User],
    *, actor: Actor, due_on: date, now: datetime,
) -> list[Task]:
    titles = {
        lang: label(
            "effectiveness.review_title", lang, stage=_stage_label(row.stage, lang),
            findings="; ".join(_finding(r.metric, r.value, r.threshold, lang) for r in reviews),
        )
        for lang in ("en", "zh-CN")
    }
    out = []
    for user in reviewers:
        task = Task(
            customer_id=None, stage=row.stage, kind="review", title=titles["en"][:500],
            title_zh=titles["zh-CN"][:500], due_on=due_on, assignee_id=user.id, status="open",
            origin="manual", playbook_version_id=row.playbook_version_id, created_at=now,
            version=1,
        )
        session.add(task)
        session.flush()
        record(session, actor=actor, action="create", entity="task", entity_id=task.id,
               after={**task_snapshot(task), "reviews": [r.id for r in reviews]}, at=now)
        out.append(task)
    return out


def report_json(report: EffectivenessReport) -> str:
    """The report as JSON text (the CLI's ``--format json`` and the API share this shape)."""
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2)
