"""Tasks: who does what for which customer by when; assignment, completion and cadence.

Completion is a conditional ``UPDATE ... WHERE status = 'open'`` that also bumps the task's
``version``: of two people completing the same task at once, exactly one UPDATE matches a row,
and the other is told the task is already done (``ConflictError``). No lock is held across a
user's think time, and it behaves the same on PostgreSQL (row lock, then re-check under READ
COMMITTED) and SQLite (writers queue behind ``BEGIN IMMEDIATE``).

When a playbook task is completed and the customer has no other open task in that stage, the
next follow-up is opened on the stage's cadence, so a stage's rhythm continues by itself.

``task_list_json`` is ``list_tasks`` as the API answers it: JSON bytes, on PostgreSQL read in
one statement through the driver (``clm.services.reads``) instead of an ORM object per task.
"""

from __future__ import annotations

import heapq
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from clm.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from clm.services.actors import Actor
from clm.services.audit import record, transaction
from clm.services.playbooks import Cadence, Playbook, active_playbook
from clm.services.reads import dumps, fetch, is_postgresql
from clm.store.bulk import utcnow
from clm.store.tables import TASK_STATUSES, Customer, CustomerStage, Task, User

CADENCE_TITLES = {
    "weekly": ("Weekly follow-up", "每周跟进"),
    "twice_a_week": ("Twice-weekly follow-up (Mon/Thu)", "每周两次跟进（周一/周四）"),
    "monthly": ("Monthly follow-up", "每月跟进"),
    "days": ("Follow-up every {n} days", "每{n}天跟进"),
}


def cadence_title(cadence: Cadence) -> tuple[str, str]:
    """English and Chinese title of a stage's recurring follow-up task."""
    en, zh = CADENCE_TITLES[cadence.kind]
    return en.format(n=cadence.days), zh.format(n=cadence.days)


def task_snapshot(task: Task) -> dict:
    return {
        "customer_id": task.customer_id,
        "stage": task.stage,
        "kind": task.kind,
        "title": task.title,
        "due_on": task.due_on,
        "assignee_id": task.assignee_id,
        "status": task.status,
        "origin": task.origin,
        "version": task.version,
    }


# -- assignment -----------------------------------------------------------------------------


def open_task_load(session: Session) -> dict[int, int]:
    """Open tasks per assignee (the load that assignment evens out)."""
    rows = session.execute(
        select(Task.assignee_id, func.count())
        .where(Task.status == "open", Task.assignee_id.is_not(None))
        .group_by(Task.assignee_id)
    )
    return {int(uid): int(n) for uid, n in rows}


def active_users(session: Session) -> pd.DataFrame:
    rows = session.execute(select(User.id, User.role).where(User.active.is_(True)))
    return pd.DataFrame(rows.all(), columns=["user_id", "role"])


def assign(
    entries: pd.DataFrame,
    *,
    playbook: Playbook,
    users: pd.DataFrame,
    load: dict[int, int],
) -> pd.Series:
    """Choose the assignee of each customer's entry tasks.

    ``entries`` has ``customer_id``, ``stage``, ``owner_user_id`` and ``n_tasks``. The owner
    gets the tasks when their role is one of the stage's owner roles; otherwise the customer
    goes to the active user of the first owner role that has any users with the fewest open
    tasks, ties broken by the lowest user id, customers taken in (stage, customer_id) order so
    the result is deterministic. Owners keep their customers first, then the rest are spread
    over the pools with the owners' new load counted. ``load`` is updated in place.
    Unassignable rows get ``NA``.
    """
    # vectorised over a million entries: users by position in a sorted id array, stages and
    # roles as integer codes; only the least-loaded choice (a heap) is a loop
    user_ids = users["user_id"].to_numpy(dtype=np.int64)
    order = np.argsort(user_ids)
    user_ids, user_roles = user_ids[order], users["role"].to_numpy(dtype=object)[order]
    role_of = dict(zip(user_ids.tolist(), user_roles.tolist(), strict=True))
    stage_codes, stage_names = pd.factorize(entries["stage"].to_numpy(dtype=object))
    stage_names = list(stage_names)
    owners = pd.to_numeric(entries["owner_user_id"], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    owner_ids = np.where(np.isnan(owners), -1, owners).astype(np.int64)
    sizes = entries["n_tasks"].to_numpy(dtype=np.int64)
    chosen = np.full(len(entries), -1, dtype=np.int64)
    # 1. owners whose role fits keep their customers
    fits = np.zeros(len(entries), dtype=bool)
    if len(user_ids):
        at = np.clip(np.searchsorted(user_ids, owner_ids), 0, len(user_ids) - 1)
        known = user_ids[at] == owner_ids
        for stage, spec in playbook.stages.items():
            if stage in stage_names:
                in_role = np.isin(user_roles, list(spec.owner_roles))
                fits |= (stage_codes == stage_names.index(stage)) & known & in_role[at]
    chosen[fits] = owner_ids[fits]
    if fits.any():
        uids, inverse = np.unique(owner_ids[fits], return_inverse=True)
        for uid, n in zip(uids.tolist(), np.bincount(inverse, weights=sizes[fits]), strict=True):
            load[uid] = load.get(uid, 0) + int(n)
    # 2. the rest go to the least-loaded user of the stage's first staffed role, customers in
    # (stage, customer_id) order
    rest = np.flatnonzero(~fits)
    keys = entries["customer_id"].to_numpy(dtype=object)[rest].astype(str)
    rank = np.argsort(np.argsort(np.array(stage_names, dtype=str)))  # code -> sorted position
    rest = rest[np.lexsort((keys, rank[stage_codes[rest]] if len(rank) else stage_codes[rest]))]
    heaps: dict[str, list[tuple[int, int]]] = {}
    for role in {r for s in playbook.stages.values() for r in s.owner_roles}:
        heaps[role] = sorted((load.get(u, 0), u) for u, r in role_of.items() if r == role)
    pools = [
        next((heaps[r] for r in playbook.stages[stage].owner_roles if heaps.get(r)), None)
        if stage in playbook.stages
        else None
        for stage in stage_names
    ]
    heapreplace = heapq.heapreplace
    codes, rest_sizes, picked = stage_codes[rest].tolist(), sizes[rest].tolist(), []
    for code, n in zip(codes, rest_sizes, strict=True):
        pool = pools[code]
        if pool is None:
            picked.append(-1)
            continue
        current, uid = pool[0]
        heapreplace(pool, (current + n, uid))
        picked.append(uid)
    chosen[rest] = picked
    for pool in {id(p): p for p in pools if p}.values():
        for current, uid in pool:
            if current != load.get(uid, 0):
                load[uid] = current
    out = pd.Series(chosen, index=entries.index, dtype="Int64")
    return out.mask(out < 0)


# -- single-task services -------------------------------------------------------------------


def create_task(
    session: Session,
    *,
    actor: Actor,
    customer_id: str,
    title: str,
    due_on: date,
    kind: str = "manual",
    origin: str = "manual",
    assignee_id: int | None = None,
    stage: str | None = None,
    title_zh: str | None = None,
    now: datetime | None = None,
) -> Task:
    """Open a task on a customer (default assignee: the acting user)."""
    now = now or utcnow()
    if not title or not title.strip():
        raise InputError("a task needs a title", field="title")
    with transaction(session):
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise NotFoundError(f"customer {customer_id!r} does not exist", field="customer_id")
        if assignee_id is not None and session.get(User, assignee_id) is None:
            raise InputError(f"assignee {assignee_id} is not a user", field="assignee_id")
        if stage is None:
            stage = session.scalar(
                select(CustomerStage.stage).where(CustomerStage.customer_id == customer_id)
            )
        task = Task(
            customer_id=customer_id,
            stage=stage,
            kind=kind,
            title=title.strip(),
            title_zh=title_zh,
            due_on=due_on,
            assignee_id=assignee_id if assignee_id is not None else actor.user_id,
            status="open",
            origin=origin,
            created_at=now,
            version=1,
        )
        session.add(task)
        session.flush()
        record(
            session,
            actor=actor,
            action="create",
            entity="task",
            entity_id=task.id,
            customer_id=customer_id,
            after=task_snapshot(task),
            at=now,
        )
    return task


def _may_touch(actor: Actor, task: Task) -> None:
    if actor.is_automated or actor.can("tasks:all") or task.assignee_id == actor.user_id:
        return
    raise PermissionDeniedError(
        f"task {task.id} is assigned to someone else", permission="tasks:all", task_id=task.id
    )


def complete_task(
    session: Session,
    *,
    actor: Actor,
    task_id: int,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Mark an open task done, once; the loser of a race gets ``ConflictError``.

    ``expected_version`` (optional) also refuses a task changed since the caller read it.
    """
    now = now or utcnow()
    with transaction(session):
        task = session.get(Task, task_id)
        if task is None:
            raise NotFoundError(f"task {task_id} does not exist", field="task_id")
        _may_touch(actor, task)
        before = task_snapshot(task)
        conditions = [Task.id == task_id, Task.status == "open"]
        if expected_version is not None:
            conditions.append(Task.version == expected_version)
        result = session.execute(
            update(Task)
            .where(and_(*conditions))
            .values(
                status="done", closed_at=now, completed_by=actor.user_id, version=Task.version + 1
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            session.expire(task)
            state = session.scalar(select(Task.status).where(Task.id == task_id))
            raise ConflictError(
                f"task {task_id} is already {state}"
                if state != "open"
                else f"task {task_id} changed since version {expected_version}; reload it",
                task_id=task_id,
                status=state,
            )
        session.expire(task)
        session.refresh(task)
        record(
            session,
            actor=actor,
            action="complete",
            entity="task",
            entity_id=task_id,
            customer_id=task.customer_id,
            before=before,
            after=task_snapshot(task),
            at=now,
        )
        if task.origin == "playbook":
            _open_cadence_follow_up(session, actor=actor, task=task, now=now)
    return task


def _open_cadence_follow_up(session: Session, *, actor: Actor, task: Task, now: datetime) -> None:
    found = active_playbook(session)
    stage = session.scalar(
        select(CustomerStage.stage).where(CustomerStage.customer_id == task.customer_id)
    )
    if found is None or stage != task.stage or stage not in found[0].stages:
        return
    still_open = session.scalar(
        select(func.count())
        .select_from(Task)
        .where(Task.customer_id == task.customer_id, Task.status == "open", Task.stage == stage)
    )
    if still_open:
        return
    cadence = found[0].stages[stage].cadence
    en, zh = cadence_title(cadence)
    follow = Task(
        customer_id=task.customer_id,
        stage=stage,
        kind="cadence_follow_up",
        title=en,
        title_zh=zh,
        due_on=cadence.next_after(now.date()),
        assignee_id=task.assignee_id,
        status="open",
        origin="playbook",
        playbook_version_id=found[1],
        created_at=now,
        version=1,
    )
    session.add(follow)
    session.flush()
    record(
        session,
        actor=actor,
        action="create",
        entity="task",
        entity_id=follow.id,
        customer_id=task.customer_id,
        after=task_snapshot(follow),
        at=now,
    )


def cancel_task(
    session: Session, *, actor: Actor, task_id: int, now: datetime | None = None
) -> Task:
    """Cancel an open task (same once-only guarantee as completion)."""
    now = now or utcnow()
    with transaction(session):
        task = session.get(Task, task_id)
        if task is None:
            raise NotFoundError(f"task {task_id} does not exist", field="task_id")
        _may_touch(actor, task)
        before = task_snapshot(task)
        result = session.execute(
            update(Task)
            .where(Task.id == task_id, Task.status == "open")
            .values(status="cancelled", closed_at=now, version=Task.version + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise ConflictError(f"task {task_id} is no longer open", task_id=task_id)
        session.expire(task)
        session.refresh(task)
        record(
            session,
            actor=actor,
            action="cancel",
            entity="task",
            entity_id=task_id,
            customer_id=task.customer_id,
            before=before,
            after=task_snapshot(task),
            at=now,
        )
    return task


def due_tasks(session: Session, *, user_id: int, as_of: date) -> list[Task]:
    """A user's open tasks due on ``as_of`` or overdue, oldest first."""
    return list(
        session.scalars(
            select(Task)
            .where(Task.assignee_id == user_id, Task.status == "open", Task.due_on <= as_of)
            .order_by(Task.due_on, Task.id)
        )
    )


def _visible_assignee(actor: Actor, assignee_id: int | None, status: str | None) -> int | None:
    """Check a task listing's filters; the assignee to list (the actor's own without
    ``tasks:all``)."""
    if status is not None and status not in TASK_STATUSES:
        raise InputError(
            f"status {status!r} is not one of {', '.join(TASK_STATUSES)}", field="status"
        )
    if not (actor.is_automated or actor.can("tasks:all")):
        if assignee_id not in (None, actor.user_id):
            raise PermissionDeniedError("you may list only your own tasks", permission="tasks:all")
        assignee_id = actor.user_id
    return assignee_id


def list_tasks(
    session: Session,
    *,
    actor: Actor,
    assignee_id: int | None = None,
    customer_id: str | None = None,
    status: str | None = "open",
    due_by: date | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Task]:
    """Tasks the actor may see: their own, or anyone's with ``tasks:all``."""
    assignee_id = _visible_assignee(actor, assignee_id, status)
    stmt = select(Task).order_by(Task.due_on, Task.id).limit(limit).offset(offset)
    if assignee_id is not None:
        stmt = stmt.where(Task.assignee_id == assignee_id)
    if customer_id is not None:
        stmt = stmt.where(Task.customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(Task.status == status)
    if due_by is not None:
        stmt = stmt.where(Task.due_on <= due_by)
    return list(session.scalars(stmt))


# What the API shows of a task, in its order (the TaskOut schema).
TASK_FIELDS = (
    "id",
    "customer_id",
    "stage",
    "kind",
    "title",
    "title_zh",
    "due_on",
    "assignee_id",
    "status",
    "origin",
    "created_at",
    "closed_at",
    "completed_by",
    "version",
)
_TASK_FILTERS = {  # list_tasks' filters as SQL, for the statement task_list_json sends
    "assignee_id": "assignee_id = %(assignee_id)s",
    "customer_id": "customer_id = %(customer_id)s",
    "status": "status = %(status)s",
    "due_by": "due_on <= %(due_by)s",
}


def task_list_json(
    session: Session,
    *,
    actor: Actor,
    assignee_id: int | None = None,
    customer_id: str | None = None,
    status: str | None = "open",
    due_by: date | None = None,
    limit: int = 100,
    offset: int = 0,
) -> bytes:
    """``list_tasks`` as a JSON list of ``TASK_FIELDS`` objects (same checks, same order)."""
    if not is_postgresql(session):
        tasks = list_tasks(
            session,
            actor=actor,
            assignee_id=assignee_id,
            customer_id=customer_id,
            status=status,
            due_by=due_by,
            limit=limit,
            offset=offset,
        )
        return dumps([{f: getattr(t, f) for f in TASK_FIELDS} for t in tasks])
    params: dict[str, object] = {
        "assignee_id": _visible_assignee(actor, assignee_id, status),
        "customer_id": customer_id,
        "status": status,
        "due_by": due_by,
    }
    where = " AND ".join(_TASK_FILTERS[k] for k, v in params.items() if v is not None)
    sql = (
        f"SELECT {', '.join(TASK_FIELDS)} FROM tasks {'WHERE ' + where if where else ''} "
        "ORDER BY due_on, id LIMIT %(limit)s OFFSET %(offset)s"
    )
    rows = fetch(session, sql, {**params, "limit": limit, "offset": offset})
    return dumps([dict(zip(TASK_FIELDS, row, strict=True)) for row in rows])
