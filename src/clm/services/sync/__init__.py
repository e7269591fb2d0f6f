"""Stage sync: an engine run's customers, current stages and transitions flow into the store.

The sync is set-based and idempotent. It reads what the store holds, compares it with the run's
frames as canonical text (so SQLite's and PostgreSQL's representations compare alike), and
writes only the differences, in bulk: a second identical sync writes no row at all, not even an
audit row. A stage change is the event the rest reacts to: the old stage's open playbook tasks
are closed as ``superseded`` and the new stage's entry tasks are opened and assigned. Every
change is audited as the automated run, with its model version (``trail``).

It runs in three steps so that a million customers fit in a minute (issue 4):

1. *read*: every stored customer, stage and transition key the comparison needs, before any
   write (one ``COPY ... TO`` each on PostgreSQL);
2. *compare and write*: the run's frames are converted and compared by Arrow, step by step,
   and each step's inserts and updates go into a ``clm.store.pipeline``, which on PostgreSQL
   runs them on a worker thread while this thread compares the next step, assigns the new
   tasks and builds the audit JSON. The open tasks of customers who move are read and
   superseded in that queue, before the new ones are assigned;
3. the sync's own summary row.

A first load (an empty ``customers`` table) drops the loaded tables' secondary indexes and
foreign keys and puts them back after the COPYs, checked over every row
(``clm.store.pipeline.defer_indexes``): checked row by row, each foreign key cost 7-11 s per
million rows on the 2-core test box, checked by one anti-join 0.3-2 s. ``audit_log`` is not
among those tables: it is never empty and every service writes to it.

Module map: ``columns`` (canonical input columns and checks), ``customers``, ``stages``,
``transitions``, ``tasks`` (supersede, open, assign), ``trail`` (audit rows), ``jsontext``
(audit JSON), ``report`` (``SyncReport``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import pandas as pd
import pyarrow as pa
from sqlalchemy.orm import Session

from clm.services.actors import Actor
from clm.services.audit import record, record_many, transaction
from clm.services.playbooks import Playbook, ensure_playbook, save_playbook
from clm.services.sync import customers as customers_
from clm.services.sync import stages as stages_
from clm.services.sync import tasks as tasks_
from clm.services.sync import transitions as transitions_
from clm.services.sync.columns import require
from clm.services.sync.report import SyncReport
from clm.services.sync.trail import compose
from clm.services.tasks import active_users, open_task_load
from clm.store.bulk import utcnow
from clm.store.pipeline import defer_indexes, pipeline, restore_indexes
from clm.store.tables import Customer, CustomerStage, StageTransition, Task

__all__ = ["SyncReport", "sync_stages"]

_FIRST_LOAD_TABLES = (Customer, CustomerStage, StageTransition, Task)
_NONE = pa.array([], pa.string())


@contextmanager
def _timed(report: SyncReport, step: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        report.seconds[step] = report.seconds.get(step, 0.0) + time.perf_counter() - start


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
    require(customers, "customers", ("customer_id",))
    require(current, "current", ("customer_id", "stage"))
    require(transitions, "transitions", ("customer_id", "from_stage", "to_stage", "changed_on"))
    now = now or utcnow()
    actor = Actor.automated(run_id, model_version=model_version)
    report = SyncReport(run_id=run_id, model_version=model_version, as_of=as_of)
    with transaction(session):
        if playbook is not None:
            version_id = save_playbook(session, actor=actor, playbook=playbook, now=now).id
        else:
            playbook, version_id = ensure_playbook(session, actor=actor, now=now)

        with _timed(report, "read"):
            stored_customers = customers_.read(session)
            stored_stages = stages_.read(session)
            stored_keys = transitions_.read(session, transitions, model_version=model_version)
            users, load = active_users(session), open_task_load(session)
        first_load = stored_customers.rows.num_rows == 0
        deferred: list[str] = []

        with pipeline(session) as writes:
            with _timed(report, "compare customers"):
                people = customers_.plan(customers, stored_customers)
            if first_load and people.new.num_rows:
                tables = [t.__table__ for t in _FIRST_LOAD_TABLES]
                writes.submit(
                    "indexes dropped", lambda s: deferred.extend(defer_indexes(s, tables))
                )
            customers_.write(writes, people)
            with _timed(report, "compare stages"):
                stages = stages_.plan(
                    current,
                    stored_stages,
                    model_version=model_version,
                    known_ids=people.known_ids,
                    known_owner=people.known_owner,
                )
            react = open_entry_tasks and stages.entries.num_rows > 0
            superseded = tasks_.supersede(writes, stages.movers if react else _NONE, now=now)
            stages_.write(writes, stages, run_id=run_id, as_of=as_of)
            with _timed(report, "compare transitions"):
                history = transitions_.plan(
                    transitions,
                    stored_keys,
                    model_version=model_version,
                    known_ids=people.known_ids,
                )
            transitions_.write(writes, history, run_id=run_id)
            with _timed(report, "prepare tasks"):
                opened = None
                if react:
                    opened = tasks_.plan_open(
                        stages.entries,
                        playbook=playbook,
                        as_of=as_of,
                        entry_window_days=entry_window_days,
                        users=users,
                        load=tasks_.without_superseded(load, superseded.result()),
                    )
                    tasks_.write_opened(writes, opened, version_id=version_id, now=now)
            with _timed(report, "prepare audit"):
                old_tasks = superseded.result()
                trail = compose(people, stages, *tasks_.tasks_members(opened, old_tasks))
                writes.submit("audit", lambda s: record_many(s, actor=actor, rows=trail, at=now))
            if deferred or (first_load and people.new.num_rows):
                writes.submit("indexes rebuilt", lambda s: restore_indexes(s, deferred))
            with _timed(report, "wait for writes"):
                writes.close()
        report.seconds.update({f"write {k}": v for k, v in writes.seconds.items()})

        report.customers_inserted = people.new.num_rows
        report.customers_updated = people.changed.num_rows
        report.stages_inserted = stages.new.num_rows
        report.stages_updated = stages.changed.num_rows
        report.stage_changes = stages.entries.num_rows
        report.transitions_inserted = history.num_rows
        report.tasks_superseded = old_tasks.num_rows
        if opened is not None:
            report.tasks_opened = opened.rows.num_rows
            report.tasks_unassigned = opened.unassigned
        report.audit_rows = trail.num_rows
        report.changes = pd.DataFrame(
            {
                "customer_id": stages.entries["customer_id"].to_pylist(),
                "from_stage": stages.entries["from_stage"].to_pylist(),
                "to_stage": stages.entries["stage"].to_pylist(),
            }
        )
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
