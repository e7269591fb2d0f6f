"""The sync's audit rows: every change with its before and after, as the automated run.

A customer seen for the first time gets one ``create`` row holding its record, the stage it
entered (``"stage"``) and the tasks opened for it (``"tasks"``), rather than a ``create`` and a
``stage_enter`` row: a first load of a million customers writes a million audit rows, not two
million, and each still says what was written. Later changes get their own rows: ``update``
(the customer fields that differ, before and after), ``stage_enter`` (a stored customer's first
stage), ``stage_change`` (a move, with the tasks superseded and opened) and ``stage_update``
(reasons, grey zone or model version).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from clm.services.sync import customers as customers_
from clm.services.sync import stages as stages_
from clm.services.sync.columns import lookup
from clm.services.sync.jsontext import braces, concat


def _join(*members: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(*members, ", ", null_handling="skip")


def compose(
    customers: customers_.CustomerPlan,
    stages: stages_.StagePlan,
    task_customers: pa.Array,
    task_members: pa.Array,
) -> pa.Table:
    """Every audit row of the sync (``action, entity, entity_id, customer_id, before, after``).

    ``task_members`` is the ``"tasks": {...}`` member of each of ``task_customers``.
    """
    parts = []
    new_ids = customers.new["id"].combine_chunks()
    entered = stages.new["customer_id"].combine_chunks()
    if len(new_ids):
        # a first load: every new customer entered a stage, in the same order; the stage's
        # members join the customer's in one pass instead of being built and copied again
        if entered.equals(new_ids):
            stage = [', "stage": {', *stages_.member_pieces_of(stages.new), "}"]
        else:
            found = lookup(new_ids, entered, stages_.members(stages.new))
            stage = [pc.binary_join_element_wise(', "stage": {', found, "}", "")]
        if task_customers.equals(new_ids):
            tasks = [", ", task_members]
        else:
            found = lookup(new_ids, task_customers, task_members)
            tasks = [pc.binary_join_element_wise(", ", found, "")]
        pieces = ["{", *customers_.new_pieces(customers), *stage, *tasks, "}"]
        after = concat(pieces, len(new_ids))
        parts.append(customers_.audit_rows("create", "customer", new_ids, None, after))
    if customers.changed.num_rows:
        parts.append(customers_.update_audit(customers))
    if not entered.equals(new_ids) and len(entered):
        stored = pc.invert(pc.is_in(entered, value_set=new_ids))
        ids = entered.filter(stored)
        if len(ids):  # a stored customer's first stage
            members = stages_.members(stages.new.filter(stored))
            after = _join(members, lookup(ids, task_customers, task_members))
            parts.append(
                customers_.audit_rows("stage_enter", "customer_stage", ids, None, braces(after))
            )
    if stages.changed.num_rows:
        ids = stages.changed["customer_id"].combine_chunks()
        parts.append(stages_.change_audit(stages, lookup(ids, task_customers, task_members)))
    if not parts:
        empty = pa.array([], pa.string())
        return customers_.audit_rows("create", "customer", empty, None, empty)
    return pa.concat_tables(parts)
