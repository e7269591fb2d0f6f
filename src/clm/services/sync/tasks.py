"""The playbook's reaction to stage entries: old stage's tasks superseded, new stage's opened.

A customer who moves has the open playbook tasks of the old stage closed as ``superseded``. Each
customer entering a stage gets the stage's entry tasks, assigned by
``clm.services.tasks.assign`` (the owner when their role fits, else spread evenly over the
stage's role); one first seen long after entering gets only the stage's recurring follow-up.
"""

from __future__ import annotations

import itertools
import json
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Integer, String, and_, select, update
from sqlalchemy.orm import Session

from clm.services.playbooks import Playbook
from clm.services.sync.columns import lookup
from clm.services.tasks import assign, cadence_title
from clm.store.bulk import drop_staged, insert_arrow, read_canonical, stage_frame
from clm.store.pipeline import Writes
from clm.store.tables import Task

_TASK_COLUMNS = ("id", "customer_id", "assignee_id")


def _open_playbook_tasks(session: Session, customers: pa.Array) -> pa.Table:
    """``id, customer_id, assignee_id`` of the open playbook tasks of ``customers``."""
    staged = stage_frame(session, pa.table({"customer_id": customers}), {"customer_id": String()})
    t = Task.__table__
    found = read_canonical(
        session,
        select(t.c.id, t.c.customer_id, t.c.assignee_id)
        .where(t.c.status == "open", t.c.origin == "playbook")
        .where(t.c.customer_id.in_(select(staged.c.customer_id)))
        .order_by(t.c.id),
        {"id": "int", "customer_id": "text", "assignee_id": "int"},
    )
    drop_staged(session, staged)
    return found


def supersede(writes: Writes, customers: pa.Array, *, now: datetime) -> Future[pa.Table]:
    """Queue closing the open playbook tasks of ``customers`` (those who move) as superseded.

    The future holds the tasks closed (``id, customer_id, assignee_id``, canonical text).
    """
    if len(customers) == 0:
        done: Future[pa.Table] = Future()
        done.set_result(pa.table({c: pa.array([], pa.string()) for c in _TASK_COLUMNS}))
        return done

    def run(session: Session) -> pa.Table:
        found = _open_playbook_tasks(session, customers)
        if found.num_rows:
            ids = pa.table({"id": pc.cast(found["id"], pa.int64())})
            staged = stage_frame(session, ids, {"id": Integer()})
            t = Task.__table__
            session.execute(
                update(t)
                .where(and_(t.c.id.in_(select(staged.c.id)), t.c.status == "open"))
                .values(status="superseded", closed_at=now, version=t.c.version + 1)
            )
            drop_staged(session, staged)
        return found

    return writes.submit("tasks superseded", run)


def without_superseded(load: dict[int, int], superseded: pa.Table) -> dict[int, int]:
    """Open tasks per assignee once ``superseded`` are closed (what assignment evens out)."""
    out = dict(load)
    for uid in superseded["assignee_id"].to_pylist():
        if uid:
            out[int(uid)] = out.get(int(uid), 0) - 1
    return out


@dataclass
class OpenedTasks:
    rows: pa.Table  # customer_id, stage, kind, title, title_zh, due_on, assignee_id
    customers: pa.Array  # each customer that got tasks, once
    kinds_json: pa.Array  # their task kinds as a JSON list
    unassigned: int


def _templates(playbook: Playbook, as_of: date) -> tuple[list[str], pa.Table, np.ndarray]:
    """Every (stage, plan) group's tasks, concatenated, and where each group starts."""
    groups: list[str] = []
    rows: list[tuple[str, str, str, str]] = []
    starts = [0]
    for stage, spec in playbook.stages.items():
        en, zh = cadence_title(spec.cadence)
        for plan, items in (
            ("entry", spec.planned_tasks(as_of)),
            ("cadence", [("cadence_follow_up", en, zh, spec.cadence.next_after(as_of))]),
        ):
            groups.append(f"{stage}\x1f{plan}")
            rows += [
                (kind, title, title_zh, due.isoformat()) for kind, title, title_zh, due in items
            ]
            starts.append(len(rows))
    names = ("kind", "title", "title_zh", "due_on")
    table = pa.table({c: pa.array([r[i] for r in rows], pa.string()) for i, c in enumerate(names)})
    return groups, table, np.array(starts)


def plan_open(
    entries: pa.Table,
    *,
    playbook: Playbook,
    as_of: date,
    entry_window_days: int,
    users: pd.DataFrame,
    load: dict[int, int],
) -> OpenedTasks:
    """The entry tasks (or recurring follow-up) of each stage entry, assigned."""
    todo = entries.filter(pc.is_in(entries["stage"], pa.array(list(playbook.stages))))
    # a customer first seen long after entering their stage gets the stage's recurring
    # follow-up, not the entry tasks (no "onboarding call" for a customer of three years)
    cutoff = (as_of - timedelta(days=entry_window_days)).isoformat()
    since = todo["stage_since"]
    settled = pc.and_(
        pc.and_(pc.is_null(todo["from_stage"]), pc.not_equal(since, "")),
        pc.less(since, cutoff),
    )
    group_names, templates, starts = _templates(playbook, as_of)
    key = pc.binary_join_element_wise(
        todo["stage"], pc.if_else(settled, "cadence", "entry"), "\x1f"
    )
    group = pc.index_in(key, value_set=pa.array(group_names)).to_numpy(zero_copy_only=False)
    sizes = np.diff(starts)[group]
    keep = sizes > 0
    todo, group, sizes = todo.filter(pa.array(keep)), group[keep], sizes[keep]
    if not todo.num_rows:
        empty = pa.array([], pa.string())
        return OpenedTasks(pa.table({}), empty, empty, 0)
    owner = pc.cast(
        pc.if_else(pc.equal(todo["owner_user_id"], ""), None, todo["owner_user_id"]), pa.int64()
    )
    frame = pd.DataFrame(
        {
            "customer_id": todo["customer_id"].to_numpy(),
            "stage": todo["stage"].to_numpy(),
            "owner_user_id": owner.to_numpy(),
            "n_tasks": sizes,
        }
    )
    assignee = pa.array(assign(frame, playbook=playbook, users=users, load=load))
    # each entry repeated once per task of its group, then the group's templates in order
    row = np.repeat(np.arange(todo.num_rows), sizes)
    first = np.repeat(np.cumsum(sizes) - sizes, sizes)
    template = starts[group][row] + (np.arange(len(row)) - first)
    take_row, take_template = pa.array(row), pa.array(template)
    rows = pa.table(
        {
            "customer_id": todo["customer_id"].take(take_row),
            "stage": todo["stage"].take(take_row),
            **{c: templates[c].take(take_template) for c in templates.column_names},
            "assignee_id": assignee.take(take_row),
        }
    )
    kinds = [  # each group's task kinds as a JSON list, for the audit
        json.dumps(templates["kind"].slice(a, b - a).to_pylist(), ensure_ascii=False)
        for a, b in itertools.pairwise(starts.tolist())
    ]
    return OpenedTasks(
        rows=rows,
        customers=todo["customer_id"].combine_chunks(),
        kinds_json=pa.array(kinds, pa.string()).take(pa.array(group)),
        unassigned=rows["assignee_id"].null_count,
    )


def write_opened(writes: Writes, opened: OpenedTasks, *, version_id: int, now: datetime) -> None:
    if not opened.rows.num_rows:
        return
    constants = {
        "status": "open",
        "origin": "playbook",
        "playbook_version_id": version_id,
        "created_at": now,
        "version": 1,
    }
    rows = opened.rows
    writes.submit("tasks", lambda s: insert_arrow(s, Task.__table__, rows, constants=constants))


def tasks_members(opened: OpenedTasks | None, superseded: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Per customer with task changes: ``"tasks": {"opened": [...], "superseded": [...]}``."""
    if opened is None:
        empty = pa.array([], pa.string())
        opened = OpenedTasks(pa.table({}), empty, empty, 0)
    sup_ids = pa.array([], pa.string())
    sup_json = pa.array([], pa.string())
    if superseded.num_rows:
        grouped = superseded.group_by("customer_id", use_threads=False).aggregate([("id", "list")])
        sup_ids = grouped["customer_id"].combine_chunks()
        sup_json = pc.binary_join_element_wise(
            "[", pc.binary_join(grouped["id_list"].combine_chunks(), ", "), "]", ""
        )
    customers = (
        pc.unique(pa.concat_arrays([opened.customers, sup_ids]))
        if len(sup_ids)
        else opened.customers
    )
    members = pc.binary_join_element_wise(
        '"tasks": {"opened": ',
        lookup(customers, opened.customers, opened.kinds_json, "[]"),
        ', "superseded": ',
        lookup(customers, sup_ids, sup_json, "[]"),
        "}",
        "",
    )
    return customers, members
