"""Indexes the hot reads depend on: the task list is handed out in order by an index."""

from __future__ import annotations

from sqlalchemy import inspect, text

from clm.store.engine import downgrade, make_engine, upgrade

# The statement of ``services.tasks.task_list_json`` for one user's open tasks.
TASK_LIST = (
    "SELECT id FROM tasks WHERE assignee_id = 1 AND status = 'open' "
    "ORDER BY due_on, id LIMIT 50"
)


def _task_indexes(engine) -> dict[str, list[str]]:
    return {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("tasks")}


def test_tasks_are_indexed_in_the_task_lists_order(store):
    indexes = _task_indexes(store.engine)
    assert indexes["ix_tasks_assignee_status_due_id"] == ["assignee_id", "status", "due_on", "id"]
    assert "ix_tasks_assignee_status_due" not in indexes  # its prefix, replaced by 0004


def test_the_task_list_is_read_in_index_order_without_a_sort(store):
    """Without ``id`` in the index the database sorted a user's whole earliest due dates by id
    (p95 about 2.5 s with 1M customers); the plan must not sort."""
    with store.engine.connect() as connection:
        if store.dialect == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = "\n".join(r[0] for r in connection.execute(text("EXPLAIN " + TASK_LIST)))
            assert "ix_tasks_assignee_status_due_id" in plan, plan
            assert "Sort" not in plan, plan
        else:
            rows = connection.execute(text("EXPLAIN QUERY PLAN " + TASK_LIST)).all()
            plan = "\n".join(str(r[-1]) for r in rows)
            assert "ix_tasks_assignee_status_due_id" in plan, plan
            assert "TEMP B-TREE" not in plan, plan


def test_migration_0004_goes_down_to_the_old_index_and_up_again(store_url):
    engine = make_engine(store_url)
    upgrade(engine)
    downgrade(engine, revision="0003")
    assert "ix_tasks_assignee_status_due" in _task_indexes(engine)
    assert "ix_tasks_assignee_status_due_id" not in _task_indexes(engine)
    upgrade(engine)
    assert "ix_tasks_assignee_status_due_id" in _task_indexes(engine)
    engine.dispose()
