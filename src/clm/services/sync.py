"""Stage sync: an engine run's customers, current stages and transitions flow into the store.

The sync is set-based and idempotent. It reads what the store holds, compares it with the run's
frames as canonical text (so SQLite's and PostgreSQL's representations compare alike), and
writes only the differences, in bulk (``clm.store.bulk``): a second identical sync writes no
row at all, not even an audit row. A stage change is the event the rest reacts to: the old
stage's open playbook tasks are closed as ``superseded`` and the new stage's entry tasks are
opened and assigned (``clm.services.playbooks``, ``clm.services.tasks.assign``). Every change
is audited as the automated run, with its model version.

Erased customers (``clm.services.consent.erase_customer``) keep their anonymised record: a
later sync never writes their name, phone or e-mail back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    String,
    Text,
    and_,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from clm.errors import InputError
from clm.services.actors import Actor
from clm.services.audit import record, record_many, transaction
from clm.services.playbooks import Playbook, ensure_playbook, save_playbook
from clm.services.tasks import active_users, assign, cadence_title, open_task_load
from clm.store.bulk import canonical, drop_staged, insert_frame, read_frame, stage_frame, utcnow
from clm.store.tables import Customer, CustomerStage, StageTransition, Task, User

CUSTOMER_FIELDS = {  # store column -> (data-contract column, kind)
    "name": ("name", "text"),
    "industry": ("industry", "text"),
    "phone": ("phone", "text"),
    "email": ("email", "text"),
    "owner": ("owner", "text"),
    "acquisition_channel": ("acquisition_channel", "text"),
    "signup_date": ("signup_date", "date"),
    "owner_user_id": ("owner_user_id", "int"),
}
STAGE_FIELDS = {
    "stage": "text",
    "stage_since": "date",
    "previous_stage": "text",
    "grey_zone": "bool",
    "reasons": "text",
    "model_version": "text",
}
_SQL_TYPES = {"text": Text(), "date": Date(), "bool": Boolean(), "int": Integer()}


@dataclass
class SyncReport:
    """What one sync wrote; all zero when the store already held the run's results."""

    run_id: str
    model_version: str
    as_of: date
    customers_inserted: int = 0
    customers_updated: int = 0
    stages_inserted: int = 0
    stages_updated: int = 0
    stage_changes: int = 0
    transitions_inserted: int = 0
    tasks_opened: int = 0
    tasks_superseded: int = 0
    tasks_unassigned: int = 0
    audit_rows: int = 0
    changes: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["customer_id", "from_stage", "to_stage"])
    )

    @property
    def wrote_anything(self) -> bool:
        return bool(
            self.customers_inserted
            or self.customers_updated
            or self.stages_inserted
            or self.stages_updated
            or self.transitions_inserted
            or self.tasks_opened
            or self.tasks_superseded
        )

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


def _require(frame: pd.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{name}: missing column(s) {', '.join(missing)}", table=name, field=missing[0]
        )


def _ids(frame: pd.DataFrame, name: str, *, unique: bool) -> pd.Series:
    ids = canonical(frame["customer_id"], "text")
    empty = np.flatnonzero((ids == "").to_numpy())
    if len(empty):
        raise InputError(
            f"{name} row {empty[0] + 1}: customer_id is empty",
            table=name,
            row=int(empty[0]) + 1,
            field="customer_id",
        )
    if unique:
        dup = np.flatnonzero(ids.duplicated().to_numpy())
        if len(dup):
            raise InputError(
                f"{name} row {dup[0] + 1}: customer_id {ids.iloc[dup[0]]!r} repeats",
                table=name,
                row=int(dup[0]) + 1,
                field="customer_id",
            )
    return ids


def _reasons(series: pd.Series) -> pd.Series:
    def one(v: object) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, np.ndarray | list | tuple):
            return json.dumps([str(x) for x in v], ensure_ascii=False)
        return str(v)

    return series.astype(object).map(one).astype(object)


def _json_value(column: str, value: object) -> object:
    if value == "":
        return None
    if column == "grey_zone":
        return value == "1"
    if column == "owner_user_id":
        return int(value)  # type: ignore[call-overload]
    if column == "reasons" and isinstance(value, str) and value.startswith("["):
        return json.loads(value)
    return value


def _json_rows(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """Audit before/after JSON of canonical rows (NULLs, booleans and reason lists restored)."""
    return [
        json.dumps(
            {c: _json_value(c, v) for c, v in zip(columns, values, strict=True)},
            ensure_ascii=False,
        )
        for values in zip(*(frame[c].to_numpy(dtype=object) for c in columns), strict=True)
    ]


def _typed(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Canonical text back to insertable values (``""`` -> NULL, bools, ints)."""
    out = frame.copy()
    for col, kind in kinds.items():
        s = out[col].astype(object)
        if kind == "bool":
            out[col] = (s == "1").astype(object)
        elif kind == "int":
            out[col] = pd.to_numeric(s.where(s != "", None), errors="coerce").astype("Int64")
        else:
            out[col] = s.where(s != "", None)
    return out


def sync_stages(
    session: Session,
    *,
    customers: pd.DataFrame,
    current: pd.DataFrame,
    transitions: pd.DataFrame,
    model_version: str,
    run_id: str,
    as_of: date,
    playbook: Playbook | None = None,
    open_entry_tasks: bool = True,
    entry_window_days: int = 30,
    now: datetime | None = None,
) -> SyncReport:
    """Bring the store up to date with one engine run; idempotent.

    Parameters
    ----------
    customers
        Data-contract customer columns (``customer_id``, ``name``, ``industry``, ``phone``,
        ``email``, ``owner``, ``acquisition_channel``, ``signup_date``; others ignored).
    current
        ``customer_id, stage, stage_since, previous_stage, grey_zone, reasons`` per customer.
    transitions
        ``customer_id, from_stage, to_stage, changed_on, reasons`` (and optionally
        ``model_version``); a transition already stored for the same customer, date and model
        version is kept as it is.
    model_version, run_id
        Recorded on stages, transitions and every audit row of this sync.
    as_of
        The run's date: stored as ``synced_on``; entry tasks are scheduled from it (so a first
        sync over old history opens today's work, not a backlog of overdue tasks).
    playbook
        The playbook to apply (stored as a new version if it differs); default: the one in
        force, or the shipped default when the store has none.
    open_entry_tasks
        Open the entry tasks of a customer's stage on a change (and on first sight).
    entry_window_days
        A customer seen for the first time whose ``stage_since`` is more than this many days
        before ``as_of`` gets only the stage's recurring follow-up task, not its entry tasks.
    """
    _require(customers, "customers", ("customer_id",))
    _require(current, "current", ("customer_id", "stage"))
    _require(transitions, "transitions", ("customer_id", "from_stage", "to_stage", "changed_on"))
    now = now or utcnow()
    actor = Actor.automated(run_id, model_version=model_version)
    report = SyncReport(run_id=run_id, model_version=model_version, as_of=as_of)
    with transaction(session):
        if playbook is not None:
            version_id = save_playbook(session, actor=actor, playbook=playbook, now=now).id
        else:
            playbook, version_id = ensure_playbook(session, actor=actor, now=now)
        audit: list[pd.DataFrame] = []
        owners = _sync_customers(session, customers, report, audit)
        entries, stage_audit = _sync_current(
            session, current, model_version, run_id, as_of, owners, report
        )
        _sync_transitions(session, transitions, model_version, run_id, owners, report)
        opened, superseded = (
            _apply_playbook(
                session, entries, playbook, version_id, as_of, now, report, entry_window_days
            )
            if open_entry_tasks and not entries.empty
            else ({}, {})
        )
        if not stage_audit.empty:
            stage_audit["after"] = [
                _with_tasks(a, opened.get(c), superseded.get(c))
                for a, c in zip(stage_audit["after"], stage_audit["customer_id"], strict=True)
            ]
            audit.append(stage_audit)
        if audit:
            report.audit_rows = record_many(session, actor=actor, rows=pd.concat(audit), at=now)
        if report.wrote_anything:
            record(
                session,
                actor=actor,
                action="sync",
                entity="stage_sync",
                entity_id=run_id,
                after={**report.counts(), "as_of": as_of},
                at=now,
            )
            report.audit_rows += 1
    return report


def _with_tasks(after: str, opened: list[str] | None, superseded: list[int] | None) -> str:
    if not opened and not superseded:
        return after
    tasks = json.dumps({"opened": opened or [], "superseded": superseded or []})
    return after[:-1] + ', "tasks": ' + tasks + "}"  # `after` is a JSON object


def _sync_customers(
    session: Session, customers: pd.DataFrame, report: SyncReport, audit: list[pd.DataFrame]
) -> pd.Series:
    """Insert new and update changed customers; returns every known id -> owner user id."""
    ids = _ids(customers, "customers", unique=True)
    inc = pd.DataFrame({"id": ids.to_numpy()})
    for col, (source, kind) in CUSTOMER_FIELDS.items():
        if col == "owner_user_id":
            continue
        values = (
            customers[source] if source in customers.columns else pd.Series([None] * len(customers))
        )
        inc[col] = canonical(values.reset_index(drop=True), kind).to_numpy()
    users = session.execute(select(User.id, User.login, User.name)).all()
    by_name: dict[str, int] = {}
    for uid, _login, name in users:
        by_name.setdefault(name, uid)
    lookup = {**by_name, **{login: uid for uid, login, _name in users}}
    inc["owner_user_id"] = inc["owner"].map(lambda o: str(lookup[o]) if o in lookup else "")

    cols = list(CUSTOMER_FIELDS)
    existing = read_frame(
        session, select(Customer.id, *(Customer.__table__.c[c] for c in cols), Customer.erased)
    )
    existing["id"] = canonical(existing["id"], "text")
    for col, (_src, kind) in CUSTOMER_FIELDS.items():
        existing[col] = canonical(existing[col], kind)
    existing["erased"] = canonical(existing["erased"], "bool")
    merged = inc.merge(existing, on="id", how="left", suffixes=("", "_old"), indicator=True)
    new = merged[merged["_merge"] == "left_only"]
    both = merged[(merged["_merge"] == "both") & (merged["erased"] != "1")]
    differs = np.zeros(len(both), dtype=bool)
    for col in cols:
        differs |= (both[col] != both[f"{col}_old"]).to_numpy()
    changed = both[differs]

    kinds = {c: k for c, (_s, k) in CUSTOMER_FIELDS.items()}
    if not new.empty:
        rows = _typed(new[["id", *cols]], kinds)
        rows["erased"] = False
        report.customers_inserted = insert_frame(session, Customer.__table__, rows)
        audit.append(
            pd.DataFrame(
                {
                    "action": "create",
                    "entity": "customer",
                    "entity_id": new["id"].to_numpy(),
                    "customer_id": new["id"].to_numpy(),
                    "before": None,
                    "after": _json_rows(new, cols),
                }
            )
        )
    if not changed.empty:
        staged = stage_frame(
            session,
            _typed(changed[["id", *cols]], kinds),
            {"id": String(), **{c: _SQL_TYPES[k] for c, k in kinds.items()}},
        )
        table = Customer.__table__
        session.execute(
            update(table).where(table.c.id == staged.c.id).values({c: staged.c[c] for c in cols})
        )
        drop_staged(session, staged)
        report.customers_updated = len(changed)
        befores, afters = [], []
        for row in changed.itertuples(index=False):
            d = row._asdict()
            diff = [c for c in cols if d[c] != d[f"{c}_old"]]
            befores.append(
                json.dumps({c: _json_value(c, d[f"{c}_old"]) for c in diff}, ensure_ascii=False)
            )
            afters.append(json.dumps({c: _json_value(c, d[c]) for c in diff}, ensure_ascii=False))
        audit.append(
            pd.DataFrame(
                {
                    "action": "update",
                    "entity": "customer",
                    "entity_id": changed["id"].to_numpy(),
                    "customer_id": changed["id"].to_numpy(),
                    "before": befores,
                    "after": afters,
                }
            )
        )
    owners = pd.concat(
        [existing.set_index("id")["owner_user_id"], inc.set_index("id")["owner_user_id"]]
    )
    return owners[~owners.index.duplicated(keep="last")]


def _sync_current(
    session: Session,
    current: pd.DataFrame,
    model_version: str,
    run_id: str,
    as_of: date,
    owners: pd.Series,
    report: SyncReport,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Upsert current stages; returns (stage entries, their audit rows)."""
    ids = _ids(current, "current", unique=True)
    unknown = ~ids.isin(owners.index)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(
            f"current row {row + 1}: customer {ids.iloc[row]!r} is not a known customer",
            table="current",
            row=row + 1,
            field="customer_id",
        )
    cur = pd.DataFrame({"customer_id": ids.to_numpy()})
    src = current.reset_index(drop=True)
    for col, kind in STAGE_FIELDS.items():
        if col == "model_version":
            cur[col] = model_version
        elif col == "reasons":
            cur[col] = _reasons(src[col]).to_numpy() if col in src else ""
        elif col == "grey_zone":
            cur[col] = canonical(src[col].fillna(False), kind).to_numpy() if col in src else "0"
        else:
            cur[col] = canonical(src[col], kind).to_numpy() if col in src else ""
    empty = np.flatnonzero((cur["stage"] == "").to_numpy())
    if len(empty):
        raise InputError(
            f"current row {empty[0] + 1}: stage is empty",
            table="current",
            row=int(empty[0]) + 1,
            field="stage",
        )
    table = CustomerStage.__table__
    fields = list(STAGE_FIELDS)
    existing = read_frame(session, select(table.c.customer_id, *(table.c[c] for c in fields)))
    existing["customer_id"] = canonical(existing["customer_id"], "text")
    for col, kind in STAGE_FIELDS.items():
        existing[col] = canonical(existing[col], kind)
    merged = cur.merge(
        existing, on="customer_id", how="left", suffixes=("", "_old"), indicator=True
    )
    new = merged[merged["_merge"] == "left_only"]
    both = merged[merged["_merge"] == "both"]
    differs = np.zeros(len(both), dtype=bool)
    for col in fields:
        differs |= (both[col] != both[f"{col}_old"]).to_numpy()
    changed = both[differs]
    moved = changed[changed["stage"] != changed["stage_old"]]

    if not new.empty:
        rows = _typed(new[["customer_id", *fields]], STAGE_FIELDS)
        rows["run_id"], rows["synced_on"] = run_id, as_of.isoformat()
        report.stages_inserted = insert_frame(session, table, rows)
    if not changed.empty:
        types = {"customer_id": String(), **{c: _SQL_TYPES[k] for c, k in STAGE_FIELDS.items()}}
        staged = stage_frame(
            session, _typed(changed[["customer_id", *fields]], STAGE_FIELDS), types
        )
        session.execute(
            update(table)
            .where(table.c.customer_id == staged.c.customer_id)
            .values({**{c: staged.c[c] for c in fields}, "run_id": run_id, "synced_on": as_of})
        )
        drop_staged(session, staged)
        report.stages_updated = len(changed)
    report.stage_changes = len(new) + len(moved)

    entries = pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": new["customer_id"],
                    "stage": new["stage"],
                    "from_stage": None,
                    "stage_since": new["stage_since"],
                }
            ),
            pd.DataFrame(
                {
                    "customer_id": moved["customer_id"],
                    "stage": moved["stage"],
                    "from_stage": moved["stage_old"],
                    "stage_since": moved["stage_since"],
                }
            ),
        ],
        ignore_index=True,
    )
    entries["owner_user_id"] = entries["customer_id"].map(owners)
    report.changes = entries[["customer_id", "from_stage", "stage"]].rename(
        columns={"stage": "to_stage"}
    )

    audit = []
    if not new.empty:
        audit.append(
            pd.DataFrame(
                {
                    "action": "stage_enter",
                    "entity": "customer_stage",
                    "entity_id": new["customer_id"].to_numpy(),
                    "customer_id": new["customer_id"].to_numpy(),
                    "before": None,
                    "after": _json_rows(new, fields),
                }
            )
        )
    if not changed.empty:
        old = changed[["customer_id", *(f"{c}_old" for c in fields)]].rename(
            columns={f"{c}_old": c for c in fields}
        )
        audit.append(
            pd.DataFrame(
                {
                    "action": np.where(
                        changed["stage"] != changed["stage_old"], "stage_change", "stage_update"
                    ),
                    "entity": "customer_stage",
                    "entity_id": changed["customer_id"].to_numpy(),
                    "customer_id": changed["customer_id"].to_numpy(),
                    "before": _json_rows(old, fields),
                    "after": _json_rows(changed, fields),
                }
            )
        )
    return entries, (pd.concat(audit, ignore_index=True) if audit else pd.DataFrame())


def _sync_transitions(
    session: Session,
    transitions: pd.DataFrame,
    model_version: str,
    run_id: str,
    owners: pd.Series,
    report: SyncReport,
) -> None:
    if transitions.empty:
        return
    ids = _ids(transitions, "transitions", unique=False)
    unknown = ~ids.isin(owners.index)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(
            f"transitions row {row + 1}: customer {ids.iloc[row]!r} is not a known customer",
            table="transitions",
            row=row + 1,
            field="customer_id",
        )
    src = transitions.reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "from_stage": canonical(src["from_stage"], "text").to_numpy(),
            "to_stage": canonical(src["to_stage"], "text").to_numpy(),
            "changed_on": canonical(src["changed_on"], "date").to_numpy(),
            "reasons": _reasons(src["reasons"]).to_numpy() if "reasons" in src else "",
            "model_version": (
                canonical(src["model_version"], "text").replace("", model_version).to_numpy()
                if "model_version" in src
                else model_version
            ),
        }
    )
    bad = np.flatnonzero(((frame["to_stage"] == "") | (frame["changed_on"] == "")).to_numpy())
    if len(bad):
        raise InputError(
            f"transitions row {bad[0] + 1}: to_stage and changed_on are required",
            table="transitions",
            row=int(bad[0]) + 1,
            field="changed_on",
        )
    frame = frame.drop_duplicates(["customer_id", "changed_on", "model_version"], keep="last")
    kinds = {
        "customer_id": "text",
        "from_stage": "text",
        "to_stage": "text",
        "changed_on": "date",
        "reasons": "text",
        "model_version": "text",
    }
    staged = stage_frame(
        session, _typed(frame, kinds), {c: _SQL_TYPES[k] for c, k in kinds.items()}
    )
    t = StageTransition.__table__
    cols = list(kinds)
    absent = ~exists().where(
        and_(
            t.c.customer_id == staged.c.customer_id,
            t.c.changed_on == staged.c.changed_on,
            t.c.model_version == staged.c.model_version,
        )
    )
    # counted first: INSERT ... SELECT reports rowcount -1 through psycopg 3 here
    report.transitions_inserted = int(
        session.scalar(select(func.count()).select_from(staged).where(absent)) or 0
    )
    if report.transitions_inserted:
        session.execute(
            insert(t).from_select(
                [*cols, "run_id"],
                select(*(staged.c[c] for c in cols), literal(run_id, String())).where(absent),
            )
        )
    drop_staged(session, staged)


def _apply_playbook(
    session: Session,
    entries: pd.DataFrame,
    playbook: Playbook,
    version_id: int,
    as_of: date,
    now: datetime,
    report: SyncReport,
    entry_window_days: int,
) -> tuple[dict[str, list[str]], dict[str, list[int]]]:
    """Supersede the old stage's open playbook tasks and open the new stage's entry tasks."""
    superseded: dict[str, list[int]] = {}
    movers = entries[entries["from_stage"].notna()]
    if not movers.empty:
        staged = stage_frame(session, movers[["customer_id"]], {"customer_id": String()})
        t = Task.__table__
        condition = and_(
            t.c.status == "open",
            t.c.origin == "playbook",
            t.c.customer_id.in_(select(staged.c.customer_id)),
        )
        old = read_frame(session, select(t.c.id, t.c.customer_id).where(condition))
        for cid, tid in zip(old["customer_id"], old["id"], strict=True):
            superseded.setdefault(str(cid), []).append(int(tid))
        if not old.empty:
            session.execute(
                update(t)
                .where(condition)
                .values(status="superseded", closed_at=now, version=t.c.version + 1)
            )
        report.tasks_superseded = len(old)
        drop_staged(session, staged)

    rows = []
    for stage, spec in playbook.stages.items():
        rows += [(stage, "entry", *item) for item in spec.planned_tasks(as_of)]
        en, zh = cadence_title(spec.cadence)
        rows.append((stage, "cadence", "cadence_follow_up", en, zh, spec.cadence.next_after(as_of)))
    plan_rows = pd.DataFrame(rows, columns=["stage", "plan", "kind", "title", "title_zh", "due_on"])
    sizes = plan_rows.groupby(["stage", "plan"]).size()
    todo = entries[entries["stage"].isin(list(playbook.stages))].copy()
    # a customer first seen long after entering their stage gets the stage's recurring
    # follow-up, not the entry tasks (no "onboarding call" for a customer of three years)
    cutoff = (as_of - timedelta(days=entry_window_days)).isoformat()
    settled = (
        todo["from_stage"].isna() & (todo["stage_since"] != "") & (todo["stage_since"] < cutoff)
    )
    todo["plan"] = np.where(settled.to_numpy(dtype=bool), "cadence", "entry")
    todo["n_tasks"] = [
        int(sizes.get((st, pl), 0)) for st, pl in zip(todo["stage"], todo["plan"], strict=True)
    ]
    todo = todo[todo["n_tasks"] > 0]
    if todo.empty:
        return {}, superseded
    todo["owner_user_id"] = pd.to_numeric(
        todo["owner_user_id"].where(todo["owner_user_id"] != "", None), errors="coerce"
    ).astype("Int64")
    todo["assignee_id"] = assign(
        todo, playbook=playbook, users=active_users(session), load=open_task_load(session)
    )
    tasks = (
        todo[["customer_id", "stage", "plan", "assignee_id"]]
        .merge(plan_rows, on=["stage", "plan"])
        .drop(columns=["plan"])
    )
    tasks["due_on"] = tasks["due_on"].map(lambda d: d.isoformat())
    tasks = tasks.assign(
        status="open", origin="playbook", playbook_version_id=version_id, created_at=now, version=1
    )
    report.tasks_opened = insert_frame(session, Task.__table__, tasks)
    report.tasks_unassigned = int(tasks["assignee_id"].isna().sum())
    opened: dict[str, list[str]] = {}
    for cid, kind in zip(tasks["customer_id"], tasks["kind"], strict=True):
        opened.setdefault(cid, []).append(kind)
    return opened, superseded
