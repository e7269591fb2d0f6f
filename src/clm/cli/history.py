"""Commands over the stage history and the stage model: ``clm history ...``, ``clm model ...``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from clm.cli.pipeline import _progress
from clm.config import get_settings

console = Console()
history_app = typer.Typer(help="Backfill and rebuild the stage history.", no_args_is_help=True)
model_app = typer.Typer(help="Check stage model files.", no_args_is_help=True)

ModelOpt = Annotated[
    Path | None,
    typer.Option("--model", help="Stage model file (YAML or TOML) or a shipped model name"),
]


def _load(model: Path | None):
    """A model file, or a shipped model by name (``default``, ``relationship``, ...)."""
    from clm.analytics.rules import load_model

    if model is None:
        return load_model("default")
    return load_model(model if model.exists() else str(model))


def _workspace():
    from clm.services.pipeline import open_workspace

    return open_workspace(get_settings())


@history_app.command("backfill")
def backfill(
    start: Annotated[
        dt.datetime, typer.Option("--start", formats=["%Y-%m-%d"], help="First date (YYYY-MM-DD)")
    ],
    end: Annotated[
        dt.datetime, typer.Option("--end", formats=["%Y-%m-%d"], help="Last date (YYYY-MM-DD)")
    ],
    step: Annotated[str, typer.Option(help="day, week or month")] = "month",
    model: ModelOpt = None,
) -> None:
    """Evaluate the stage model at every step between two dates and keep the transitions."""
    from clm.errors import InputError
    from clm.services.history import StageHistory, step_dates

    if step not in {"day", "week", "month"}:
        raise InputError(f"--step must be day, week or month, not {step!r}", field="step")
    stage_model = _load(model)
    history = StageHistory(_workspace(), model=stage_model)
    dates = step_dates(start.date(), end.date(), step)
    settings = get_settings()
    with _progress(settings.locale) as progress:
        done = history.backfill(dates, progress=progress.on_history)
    changed = sum(e.transitions for e in done)
    console.print(
        f"{len(done)} dates evaluated under {stage_model.id} ({stage_model.version}); "
        f"{changed} transitions; {sum(e.written for e in done)} dates written"
    )


@history_app.command("rebuild")
def rebuild(
    model: Annotated[Path, typer.Option("--model", help="The new stage model file")],
    as_of: Annotated[
        dt.datetime,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Date to compare stages at"),
    ],
    step: Annotated[str, typer.Option(help="Step of the rebuilt history: day, week or month")] = (
        "month"
    ),
    save: Annotated[bool, typer.Option("--save", help="Save the rebuilt history")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Show who would move between stages under a new model; with --save, adopt it."""
    from clm.services.model_change import preview_model_change, save_model_change

    stage_model = _load(model)
    warehouse = _workspace()
    with _progress(get_settings().locale) as progress:
        diff = preview_model_change(
            warehouse,
            proposed=stage_model,
            as_of=as_of.date(),
            step=step,
            progress=progress.on_history,
        )
    if fmt == "json":
        payload = {
            "as_of": diff.as_of.isoformat(),
            "active_version": diff.active_version,
            "proposed_version": diff.proposed_version,
            "customers": diff.customers,
            "moved": diff.moved,
            "matrix": diff.matrix.to_dict(orient="records"),
        }
        console.print_json(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        table = Table(title=f"{diff.moved} of {diff.customers} customers would change stage")
        for col in ("from", "to", "customers", "examples"):
            table.add_column(col, justify="right" if col == "customers" else "left")
        for row in diff.matrix.itertuples():
            table.add_row(
                row.from_stage or "-", row.to_stage, str(row.customers), ", ".join(row.examples)
            )
        console.print(table)
    if save:
        n = save_model_change(warehouse, proposed=stage_model)
        console.print(f"saved: {n} transitions under {stage_model.id} ({stage_model.version})")
    else:
        console.print("preview only: add --save to adopt this model and its history")


@model_app.command("check")
def check(
    model: Annotated[Path, typer.Argument(help="Stage model file to validate")],
) -> None:
    """Validate a stage model file and list its stages in precedence order."""
    stage_model = _load(model)
    settings = get_settings()
    table = Table(title=f"{stage_model.id} ({stage_model.version})")
    table.add_column("#", justify="right")
    table.add_column("stage")
    table.add_column("label")
    for i, stage_id in enumerate(stage_model.stage_ids, start=1):
        table.add_row(str(i), stage_id, stage_model.label(stage_id, settings.locale))
    console.print(table)


def explain_command(
    customer_id: Annotated[str, typer.Argument(help="The customer to explain")],
    as_of: Annotated[
        dt.datetime,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Date to explain (YYYY-MM-DD)"),
    ],
    model: ModelOpt = None,
    lang: Annotated[str | None, typer.Option("--lang", help="en or zh-CN")] = None,
) -> None:
    """Show a customer's stage and every criterion of the model judged on their features."""
    from clm.domain.i18n import normalize_locale, t
    from clm.services.explain import explain_customer

    settings = get_settings()
    locale = normalize_locale(lang or settings.locale)
    result = explain_customer(
        _workspace(),
        model=_load(model),
        customer_id=customer_id,
        as_of=as_of.date(),
        locale=locale,
    )
    console.print(
        f"{result.customer_id}: {result.stage_label or '-'} ({result.stage or '-'}), "
        f"{t('column.stage_since', locale)} {result.stage_since or '-'}, "
        f"{t('column.previous_stage', locale)} {result.previous_stage or '-'}"
    )
    table = Table(show_edge=False)
    for col in ("stage", "criterion", "held", "values"):
        table.add_column(col)
    for r in result.reasons:
        table.add_row(r.stage_label, r.label or r.criterion, "yes" if r.held else "no", r.detail)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(history_app, name="history")
    app.add_typer(model_app, name="model")
    app.command("explain")(explain_command)
