"""Commands of the batch pipeline: ``clm run``, ``clm demo``, ``clm history``, ``clm model``."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clm.config import get_settings
from clm.domain.i18n import t

DateOpt = Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD")]

console = Console()


@contextlib.contextmanager
def _progress(locale: str) -> Iterator[object]:
    """A Rich progress display wired to the services' progress callbacks."""
    from clm.services.pipeline import RunProgress

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, int] = {}

        def on_import(table: str, done: int, total: int) -> None:
            key = f"import:{table}"
            if key not in tasks:
                tasks[key] = bar.add_task(f"{t('progress.import', locale)} {table}", total=total)
            bar.update(tasks[key], completed=done, total=total)

        def on_history(done: int, total: int, day: dt.date) -> None:
            if "history" not in tasks:
                tasks["history"] = bar.add_task(t("progress.backfill", locale), total=total)
            bar.update(
                tasks["history"],
                completed=done,
                total=total,
                description=f"{t('progress.backfill', locale)} {day}",
            )

        yield RunProgress(on_import=on_import, on_history=on_history)


def _print_result(result, locale: str) -> None:
    files = Table(show_edge=False, box=None)
    for col in ("file", "read", "imported", "quarantined"):
        files.add_column(col, justify="right" if col != "file" else "left")
    for f in result.import_report.files:
        files.add_row(str(f.file), str(f.read), str(f.imported), str(f.quarantined))
    console.print(files)
    stages = Table(title=t("run.stage_counts", locale), show_edge=False)
    stages.add_column(t("column.stage", locale))
    stages.add_column("n", justify="right")
    for stage_id, n in result.stage_counts.items():
        stages.add_row(f"{result.model.label(stage_id, locale)} ({stage_id})", str(n))
    console.print(stages)
    if result.quarantined:
        console.print(
            t(
                "run.quarantine_hint",
                locale,
                count=result.quarantined,
                path=result.files["quarantine"],
            )
        )
    console.print(
        t(
            "run.done",
            locale,
            customers=len(result.stages),
            as_of=result.as_of.isoformat(),
            out=result.out,
        )
    )


def run(
    data: Annotated[
        Path, typer.Option("--data", help="Folder with customers/orders/events/interactions files")
    ],
    as_of: Annotated[
        dt.datetime,
        typer.Option(
            "--as-of", formats=["%Y-%m-%d"], help="Date the stages are assigned as of (YYYY-MM-DD)"
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for stages.csv, transitions.csv, quarantine.csv and run.json",
        ),
    ],
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="Stage model file (YAML or TOML) or a shipped model name (default: default)",
        ),
    ] = None,
) -> None:
    """Import a data folder, assign lifecycle stages as of a date and write the results."""
    from clm.services.pipeline import run_pipeline

    settings = get_settings()
    with _progress(settings.locale) as progress:
        result = run_pipeline(
            data_dir=data,
            as_of=as_of.date(),
            out=out,
            settings=settings,
            model_path=model,
            progress=progress,
        )
    _print_result(result, settings.locale)


def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo data and results")] = Path(
        "demo-out"
    ),
    customers: Annotated[int, typer.Option(help="Number of demo customers", min=100)] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed")] = 7,
) -> None:
    """Generate a demo company and run the lifecycle pipeline on it."""
    from clm.services.demo import DEMO_PASSWORD, DEMO_TEAM, run_demo

    settings = get_settings()
    with _progress(settings.locale) as progress:
        result = run_demo(
            out=out, settings=settings, customers=customers, seed=seed, progress=progress
        )
    _print_result(result, settings.locale)
    team = ", ".join(f"{login} ({role})" for login, _, role in DEMO_TEAM)
    console.print(t("demo.team", settings.locale, team=team, password=DEMO_PASSWORD))


def register(app: typer.Typer) -> None:
    """Attach the pipeline commands to the ``clm`` app."""
    app.command("run")(run)
    app.command("demo")(demo)
