"""Re-evaluating the stages when new data or a new model arrives outside a batch run.

An upload on the import page or a model saved in the editor changes what the stages should
be; this brings the stored history and the store up to date at the latest evaluated date,
with the model that is active in the workspace, so the pages show the consequence at once.
"""

from __future__ import annotations

import datetime as dt

from clm.analytics.rules import load_model
from clm.config import Settings
from clm.services.history import StageHistory
from clm.services.model_change import active_model
from clm.services.pipeline import open_workspace, publish_evaluation
from clm.services.publish import open_store
from clm.services.sync import SyncReport


def refresh_after_import(settings: Settings, *, as_of: dt.date | None = None) -> SyncReport | None:
    """Re-evaluate ``as_of`` (default: the latest evaluated date) and publish it to the store.

    Returns None when the workspace has never been run (nothing to refresh yet).
    """
    warehouse = open_workspace(settings)
    try:
        model = active_model(warehouse) or load_model("default")
        history = StageHistory(warehouse, model=model)
        dates = history.evaluated_dates()
        if not dates and as_of is None:
            return None
        as_of = as_of or dates[-1]
        _, stages = history.evaluate(as_of)
        store = open_store(settings)
        try:
            _, _, sync = publish_evaluation(
                store,
                warehouse,
                model=model,
                history=history,
                as_of=as_of,
                stages=stages,
                import_report=None,
            )
        finally:
            store.dispose()
        return sync
    finally:
        warehouse.con.disconnect()
