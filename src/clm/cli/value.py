"""Commands of ``clm value``: fit customer-value models and predict per customer."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from clm.config import get_settings
from clm.domain.i18n import normalize_locale

# Labels of this command group, in both languages (a test checks both exist).
LABELS: dict[str, dict[str, str]] = {
    "value.fitting": {"en": "Fitting {model}", "zh-CN": "正在拟合 {model}"},
    "value.iteration": {
        "en": "iteration {n}, log-likelihood {ll:.2f}",
        "zh-CN": "第 {n} 次迭代，对数似然 {ll:.2f}",
    },
    "value.param": {"en": "Parameter", "zh-CN": "参数"},
    "value.estimate": {"en": "Estimate", "zh-CN": "估计值"},
    "value.std_error": {"en": "Std. error", "zh-CN": "标准误"},
    "value.log_likelihood": {"en": "Log-likelihood", "zh-CN": "对数似然"},
    "value.customers": {"en": "Customers", "zh-CN": "客户数"},
    "value.repeat_buyers": {"en": "Repeat buyers", "zh-CN": "复购客户数"},
    "value.holdout": {
        "en": "Holdout: predicted vs actual purchases",
        "zh-CN": "验证期：预测与实际购买次数对比",
    },
    "value.frequency_cal": {"en": "Calibration purchases", "zh-CN": "校准期复购次数"},
    "value.actual": {"en": "Actual per customer", "zh-CN": "人均实际"},
    "value.predicted": {"en": "Predicted per customer", "zh-CN": "人均预测"},
    "value.predicting": {"en": "Predicting", "zh-CN": "正在预测"},
    "value.written": {
        "en": "Wrote {rows} customers to {path}",
        "zh-CN": "已将 {rows} 位客户写入 {path}",
    },
}


class ModelName(StrEnum):
    bgnbd = "bgnbd"
    pnbd = "pnbd"
    gg = "gg"
    sbg = "sbg"


class TimeUnit(StrEnum):
    day = "day"
    week = "week"


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


value_app = typer.Typer(
    help="Fit customer-value models (BG/NBD, Pareto/NBD, Gamma-Gamma, sBG).", no_args_is_help=True
)


def label(key: str, locale: str, **values: object) -> str:
    text = LABELS[key][normalize_locale(locale)]
    return text.format(**values) if values else text


@contextlib.contextmanager
def _fit_progress(title: str, locale: str, *, enabled: bool) -> Iterator[object]:
    """A Rich spinner on stderr showing the optimiser's iterations (none when quiet)."""
    if not enabled:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(title, total=None)

        def on_iteration(n: int, ll: float) -> None:
            bar.update(task, description=f"{title}: {label('value.iteration', locale, n=n, ll=ll)}")

        yield on_iteration


def _today() -> dt.date:
    return dt.date.today()


@value_app.command("fit")
def fit(
    model: Annotated[ModelName, typer.Option("--model", help="bgnbd, pnbd, gg or sbg")],
    orders: Annotated[
        Path | None,
        typer.Option("--orders", help="Orders file: customer_id, ordered_at, amount [, status]"),
    ] = None,
    cohort: Annotated[
        Path | None, typer.Option("--cohort", help="For sbg: a period, alive table of one cohort")
    ] = None,
    calibration_end: Annotated[
        dt.datetime | None,
        typer.Option(
            "--calibration-end", formats=["%Y-%m-%d"], help="Last day of the calibration period"
        ),
    ] = None,
    holdout_end: Annotated[
        dt.datetime | None,
        typer.Option(
            "--holdout-end",
            formats=["%Y-%m-%d"],
            help="Last day of a holdout period; adds a predicted-vs-actual report",
        ),
    ] = None,
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="Date the data was extracted; later orders are an error (default: today)",
        ),
    ] = None,
    time_unit: Annotated[TimeUnit, typer.Option("--time-unit", help="day or week")] = TimeUnit.week,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table, csv or json")
    ] = OutputFormat.table,
    save: Annotated[
        Path | None,
        typer.Option("--save", help="Also write the fitted parameters to this JSON file"),
    ] = None,
) -> None:
    """Fit a customer-value model by maximum likelihood and print its parameters."""
    from clm.services.value_fit import fit_value_model

    locale = get_settings().locale
    as_of_day = as_of.date() if as_of else _today()
    title = label("value.fitting", locale, model=model.value)
    with _fit_progress(title, locale, enabled=output is OutputFormat.table) as on_iteration:
        result = fit_value_model(
            model=model.value,
            orders=orders,
            cohort=cohort,
            calibration_end=calibration_end.date() if calibration_end else None,
            time_unit=time_unit.value,
            as_of=as_of_day,
            holdout_end=holdout_end.date() if holdout_end else None,
            progress=on_iteration,  # type: ignore[arg-type]
        )
    if save is not None:
        save.write_text(result.model.to_json(), "utf-8")
    if output is OutputFormat.json:
        payload = result.contract()
        if result.holdout is not None:
            payload["holdout"] = result.holdout.to_dict(orient="records")
        typer.echo(json.dumps(payload, ensure_ascii=False))
    elif output is OutputFormat.csv:
        _print_csv(result)
    else:
        _print_table(result, locale)


def _print_csv(result) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["model", "param", "value", "std_error"])
    se = result.model.standard_errors_ or {}
    for name, value in (result.model.params_ or {}).items():
        writer.writerow([result.model_name, name, repr(value), repr(se.get(name))])
    writer.writerow([result.model_name, "log_likelihood", repr(result.model.log_likelihood_), ""])
    sys.stdout.write(buf.getvalue())
    if result.holdout is not None:
        sys.stdout.write("\n")
        result.holdout.to_csv(sys.stdout, index=False, lineterminator="\n")


def _print_table(result, locale: str) -> None:
    console = Console()
    table = Table(title=result.model_name, show_edge=False)
    for key in ("value.param", "value.estimate", "value.std_error"):
        table.add_column(label(key, locale), justify="left" if key == "value.param" else "right")
    se = result.model.standard_errors_ or {}
    for name, value in (result.model.params_ or {}).items():
        table.add_row(name, f"{value:.4g}", f"{se.get(name, float('nan')):.3g}")
    console.print(table)
    console.print(f"{label('value.log_likelihood', locale)}: {result.model.log_likelihood_:.2f}")
    console.print(f"{label('value.customers', locale)}: {result.customers}")
    if result.repeat_buyers is not None:
        console.print(f"{label('value.repeat_buyers', locale)}: {result.repeat_buyers}")
    if result.holdout is not None:
        hold = Table(title=label("value.holdout", locale), show_edge=False)
        for key in ("value.frequency_cal", "value.customers", "value.actual", "value.predicted"):
            hold.add_column(label(key, locale), justify="right")
        for row in result.holdout.itertuples(index=False):
            hold.add_row(
                str(row.frequency_cal),
                str(row.customers),
                f"{row.actual_per_customer:.3f}",
                f"{row.predicted_per_customer:.3f}",
            )
        console.print(hold)


@value_app.command("predict")
def predict(
    params: Annotated[Path, typer.Option("--params", help="A bgnbd/pnbd model from fit --save")],
    orders: Annotated[Path, typer.Option("--orders", help="Orders file, as for fit")],
    calibration_end: Annotated[
        dt.datetime,
        typer.Option(
            "--calibration-end", formats=["%Y-%m-%d"], help="Date the summaries are taken at"
        ),
    ],
    horizon: Annotated[float, typer.Option("--horizon", help="Horizon in time units", min=0)],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write")],
    spend_params: Annotated[
        Path | None,
        typer.Option(
            "--spend-params", help="A gg model saved by fit --save; adds expected spend and CLV"
        ),
    ] = None,
    time_unit: Annotated[TimeUnit, typer.Option("--time-unit", help="day or week")] = TimeUnit.week,
    periods: Annotated[int, typer.Option("--periods", min=1, help="Discounting steps")] = 12,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", min=0, help="Discount rate per step")
    ] = 0.0,
    margin: Annotated[float, typer.Option("--margin", help="Profit share of spend")] = 1.0,
) -> None:
    """Write expected purchases, P(alive) and CLV per customer to a CSV file."""
    from clm.services.value_fit import load_model, predict_values

    locale = get_settings().locale
    transactions = load_model(params)
    spend = load_model(spend_params) if spend_params else None
    with _fit_progress(label("value.predicting", locale), locale, enabled=True):
        frame = predict_values(
            transactions=transactions,
            spend=spend,
            orders=orders,  # type: ignore[arg-type]
            calibration_end=calibration_end.date(),
            time_unit=time_unit.value,
            as_of=max(calibration_end.date(), _today()),
            horizon=horizon,
            periods=periods,
            discount_rate=discount_rate,
            margin=margin,
        )
    frame.to_csv(out, index=False)
    Console(stderr=True).print(label("value.written", locale, rows=len(frame), path=out))


def register(app: typer.Typer) -> None:
    """Attach ``clm value`` to the root app."""
    app.add_typer(value_app, name="value")
