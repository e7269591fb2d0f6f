"""The batch run: import a data folder, bring the stage history up to a date, write results.

This is the use case behind ``clm run`` and ``clm demo``. It owns the order of the steps
(import -> history -> outputs) and nothing else: reading files is ingest's, features and rules
are analytics', the history bookkeeping is ``services.history``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from clm.analytics.rules import StageModel, load_model
from clm.config import Settings, load_project_config
from clm.errors import DataFileError
from clm.ingest import ImportReport, import_folder
from clm.services.customer_values import metrics_frame, model_values, values_frame
from clm.services.history import StageHistory, data_start, plan_dates
from clm.services.model_change import active_model, set_active
from clm.services.publish import open_store, publish_run
from clm.services.run_outputs import write_outputs
from clm.services.snapshots import run_snapshots
from clm.services.sync import SyncReport
from clm.warehouse import Warehouse


@dataclass
class RunProgress:
    """Callbacks a front end may supply to draw progress; each may be None."""

    on_import: Callable[[str, int, int], None] | None = None
    on_history: Callable[[int, int, dt.date], None] | None = None


@dataclass
class RunResult:
    as_of: dt.date
    out: Path
    model: StageModel
    import_report: ImportReport
    stages: pd.DataFrame
    stage_counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    sync: SyncReport | None = None

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.import_report.files)


def open_workspace(settings: Settings) -> Warehouse:
    """The warehouse of this installation: ``CLM_WAREHOUSE_URL``, else DuckDB in ``CLM_HOME``."""
    return Warehouse.connect(settings.resolved_warehouse_url(),
                             memory_limit=settings.duckdb_memory_limit)


def run_pipeline(
    *,
    data_dir: Path,
    as_of: dt.date,
    out: Path,
    settings: Settings,
    model_path: Path | None = None,
    progress: RunProgress | None = None,
) -> RunResult:
    """Import ``data_dir``, assign stages as of ``as_of`` with their history, write ``out``."""
    progress = progress or RunProgress()
    if not data_dir.is_dir():
        raise DataFileError(f"data folder {data_dir} does not exist", file=str(data_dir))
    config = load_project_config(data_dir / "clm.toml")
    warehouse = open_workspace(settings)
    if model_path is None:  # the model the workspace uses (one saved in the editor), or default
        model = active_model(warehouse) or load_model("default")
    else:  # a file, or the name of a shipped model
        model = load_model(model_path if model_path.exists() else str(model_path))
    out.mkdir(parents=True, exist_ok=True)

    report = import_folder(
        data_dir, warehouse=warehouse, config=config, progress=progress.on_import
    )

    history = StageHistory(warehouse, model=model)
    dates = plan_dates(history, as_of=as_of, step=config.history.step, start=data_start(warehouse))
    history.backfill(dates[:-1], progress=progress.on_history)
    _, stages = history.evaluate(as_of)
    set_active(warehouse, model)
    if progress.on_history:
        progress.on_history(len(dates), len(dates), as_of)

    store = open_store(settings)
    try:
        values, run_info_values, sync = publish_evaluation(
            store,
            warehouse,
            model=model,
            history=history,
            as_of=as_of,
            stages=stages,
            import_report={**report.to_json(), "quarantine_file": str(out / "quarantine.csv")},
        )
    finally:
        store.dispose()
    counts = stages["stage"].value_counts().reindex(model.stage_ids, fill_value=0)
    stage_counts = {k: int(v) for k, v in counts.items()}
    files = write_outputs(
        out,
        stages=stages,
        transitions=history.transitions().execute(),
        report=report,
        values=values,
        extra={
            "as_of": as_of.isoformat(),
            "model": {"id": model.id, "version": model.version},
            "customers": len(stages),
            "stages": stage_counts,
            "value_models": run_info_values,
        },
    )
    return RunResult(
        as_of=as_of,
        out=out,
        model=model,
        import_report=report,
        stages=stages,
        stage_counts=stage_counts,
        files=files,
        sync=sync,
    )


def publish_evaluation(
    store,
    warehouse: Warehouse,
    *,
    model: StageModel,
    history: StageHistory,
    as_of: dt.date,
    stages: pd.DataFrame,
    import_report: dict | None,
) -> tuple[pd.DataFrame, dict, SyncReport]:
    """Compute the values of ``as_of`` and publish stages, history, metrics and aggregates.

    Returns the per-customer values (``values.csv``), the value models' parameters and note,
    and the store sync report.
    """
    tables = warehouse.input_tables()
    models = model_values(tables["orders"], as_of=as_of)
    values = values_frame(tables, as_of=as_of, models=models)
    model_info = {"params": models.params, "note": models.note}
    snapshots = run_snapshots(
        tables,
        as_of=as_of,
        stage_ids=list(model.stage_ids),
        stages=stages,
        values=values,
        model_info=model_info,
        import_report=import_report or {},
    )
    if import_report is None:
        snapshots.pop("import_report")
    sync = publish_run(
        store,
        customers=tables["customers"].execute(),
        stages=stages,
        transitions=history.transitions().execute(),
        metrics=metrics_frame(tables, as_of=as_of, values=values),
        snapshots=snapshots,
        model_version=model.version,
        as_of=as_of,
    )
    return values, model_info, sync
