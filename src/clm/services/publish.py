"""Publishing a run to the operational store: stages, history, metrics and aggregates.

After each engine run the store holds the customers' current stage, their transitions with
reasons, the metrics of the tracking record and the dashboard's aggregates, so the API, the web
app and the reminders work from one place without touching the warehouse. Every step is
idempotent: publishing the same run twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from clm.config import Settings
from clm.services.snapshots import replace_metrics, save_snapshot
from clm.services.sync import SyncReport, sync_stages
from clm.store.engine import Store


def open_store(settings: Settings) -> Store:
    """The store of this installation (``CLM_STORE_URL``, else SQLite in ``CLM_HOME``)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    return Store.open(settings.resolved_store_url())


def publish_run(
    store: Store,
    *,
    customers: pd.DataFrame,
    stages: pd.DataFrame,
    transitions: pd.DataFrame,
    metrics: pd.DataFrame,
    snapshots: dict[str, Any],
    model_version: str,
    as_of: dt.date,
) -> SyncReport:
    """Bring the store up to date with one run (stages, transitions, metrics, snapshots)."""
    run_id = f"engine:{model_version}:{as_of.isoformat()}"
    with store.session() as session:
        report = sync_stages(
            session,
            customers=customers,
            current=stages,
            transitions=transitions,
            model_version=model_version,
            run_id=run_id,
            as_of=as_of,
        )
        replace_metrics(session, metrics)
        for kind, payload in snapshots.items():
            save_snapshot(session, kind=kind, as_of=as_of, payload=payload)
    return report
