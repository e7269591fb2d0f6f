"""Use case: fit a customer-value model from an analyst's orders file (or a cohort table).

The analyst's contract is deliberately small: a file with ``customer_id, ordered_at, amount``
(``status`` optional; only ``paid`` rows count) in CSV, Excel, Parquet or JSON lines. That is
less than the warehouse import wants (no ``order_id``, no customers file), so this service reads
the file itself, checks every row with errors naming file, line and field, loads it into a
throwaway DuckDB warehouse and runs the engine-side summary of ``clm.analytics.clv.summary``
on it. ``sbg`` takes a cohort table ``period, alive`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clm.analytics.clv import (
    MODELS,
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
    calibration_holdout_summary,
    customer_lifetime_value,
    holdout_report,
    rfm_summary,
)
from clm.analytics.clv.base import MaximumLikelihoodModel, Progress
from clm.errors import DataFileError, InputError
from clm.warehouse import Warehouse

ORDER_COLUMNS = ("customer_id", "ordered_at", "amount")
COHORT_COLUMNS = ("period", "alive")
TRANSACTION_MODELS = ("bgnbd", "pnbd")


@dataclass
class FitResult:
    """A fitted model, what it was fitted on, and (with a holdout) how well it predicts it."""

    model_name: str
    model: MaximumLikelihoodModel
    customers: int
    repeat_buyers: int | None
    holdout: pd.DataFrame | None = None

    def contract(self) -> dict[str, Any]:
        """The JSON printed by ``clm value fit --format json``: model, params, log_likelihood."""
        return {
            "model": self.model_name,
            "params": dict(self.model.params_ or {}),
            "log_likelihood": self.model.log_likelihood_,
        }


# -- reading -------------------------------------------------------------------------------
def _read_table(path: Path) -> tuple[pd.DataFrame, int, str]:
    """The file as text columns, the line number of its first data row, and the row word."""
    if not path.exists():
        raise DataFileError(f"{path}: no such file", file=str(path))
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            try:
                frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
            except UnicodeDecodeError:
                frame = pd.read_csv(path, dtype=str, encoding="gb18030", keep_default_na=False)
            return frame, 2, "line"
        if suffix == ".xlsx":
            return pd.read_excel(path, dtype=str).fillna(""), 2, "row"
        if suffix == ".parquet":
            return pd.read_parquet(path), 1, "row"
        if suffix in (".jsonl", ".json"):
            return pd.read_json(path, lines=True, dtype=False), 1, "line"
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataFileError(f"{path}: cannot be read: {exc}", file=str(path)) from None
    raise DataFileError(
        f"{path}: unknown file type {suffix or '(none)'}; use .csv, .xlsx, .parquet or .jsonl",
        file=str(path),
    )


def _require_columns(frame: pd.DataFrame, path: Path, columns: tuple[str, ...]) -> None:
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataFileError(
            f"{path}: required column {', '.join(missing)} is missing (found: "
            f"{', '.join(frame.columns) or 'none'})",
            file=str(path), field=missing[0],
        )


def _bad_row(path: Path, frame: pd.DataFrame, mask: pd.Series, first_line: int, word: str,
             field: str, reason: str) -> None:
    if mask.any():
        i = int(np.flatnonzero(mask.to_numpy())[0])
        value = frame[field].iloc[i]
        raise InputError(
            f"{path.name} {word} {i + first_line}, field {field}: {reason} (got {value!r}); "
            f"{int(mask.sum())} row(s) affected",
            file=str(path), line=i + first_line, field=field,
        )


def read_orders(path: Path) -> pd.DataFrame:
    """Read and check an orders file; returns ``customer_id, ordered_at, amount, status`` plus
    ``source_file``/``source_line`` so later checks can point at the line."""
    path = Path(path)
    frame, first_line, word = _read_table(path)
    _require_columns(frame, path, ORDER_COLUMNS)
    if len(frame) == 0:
        raise DataFileError(f"{path}: has no rows", file=str(path))
    ids = frame["customer_id"].astype("string").str.strip()
    _bad_row(path, frame, ids.isna() | (ids == ""), first_line, word, "customer_id",
             "customer_id is empty")
    raw_dates = frame["ordered_at"]
    ordered_at = pd.to_datetime(raw_dates, errors="coerce", format="mixed")
    _bad_row(path, frame, ordered_at.isna(), first_line, word, "ordered_at",
             "not a date (use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)")
    if getattr(ordered_at.dt, "tz", None) is not None:
        ordered_at = ordered_at.dt.tz_localize(None)
    amount = pd.to_numeric(frame["amount"], errors="coerce")
    _bad_row(path, frame, amount.isna(), first_line, word, "amount", "not a number")
    _bad_row(path, frame, amount < 0, first_line, word, "amount",
             "negative amount; record refunds with status 'refunded'")
    if "status" in frame.columns:
        status = frame["status"].astype("string").str.strip().str.lower().replace("", "paid")
        status = status.fillna("paid")
    else:
        status = pd.Series("paid", index=frame.index, dtype="string")
    return pd.DataFrame({
        "customer_id": ids.astype(str),
        "ordered_at": ordered_at.astype("datetime64[us]"),
        "amount": amount.astype(float),
        "status": status.astype(str),
        "source_file": path.name,
        "source_line": np.arange(first_line, first_line + len(frame), dtype=np.int64),
    })


def read_cohort(path: Path) -> np.ndarray:
    """Read a ``period, alive`` table; periods must run 0, 1, 2, ... without gaps."""
    path = Path(path)
    frame, first_line, word = _read_table(path)
    _require_columns(frame, path, COHORT_COLUMNS)
    period = pd.to_numeric(frame["period"], errors="coerce")
    alive = pd.to_numeric(frame["alive"], errors="coerce")
    _bad_row(path, frame, period.isna(), first_line, word, "period", "not a number")
    _bad_row(path, frame, alive.isna(), first_line, word, "alive", "not a number")
    order = np.argsort(period.to_numpy(), kind="stable")
    period, alive = period.to_numpy()[order], alive.to_numpy()[order]
    expected = np.arange(len(period))
    if len(period) and not np.array_equal(period, expected):
        k = int(np.flatnonzero(period != expected)[0])
        raise InputError(
            f"{path.name}: periods must run 0, 1, 2, ... without gaps; expected period {k}, "
            f"found {period[k]:g}",
            file=str(path), field="period",
        )
    return alive


# -- fitting -------------------------------------------------------------------------------
def summarize_orders(orders: pd.DataFrame, *, calibration_end: date, time_unit: str,
                     as_of: date, holdout_end: date | None = None) -> pd.DataFrame:
    """Per-customer summary, computed by the Ibis expressions in a throwaway DuckDB."""
    warehouse = Warehouse.in_memory()
    table = warehouse.create("orders", orders)
    if holdout_end is not None:
        if holdout_end > as_of:
            raise InputError(f"holdout end {holdout_end} is after the as-of date {as_of}",
                             field="holdout_end")
        from clm.analytics.clv.summary import check_orders

        check_orders(table, as_of=as_of)
        expr = calibration_holdout_summary(table, calibration_end=calibration_end,
                                           holdout_end=holdout_end, time_unit=time_unit,
                                           validate=False)
    else:
        expr = rfm_summary(table, calibration_end=calibration_end, time_unit=time_unit,
                           as_of=as_of)
    summary = expr.to_pyarrow().to_pandas()
    if len(summary) == 0:
        raise InputError(
            f"no paid orders on or before the calibration end {calibration_end}",
            field="calibration_end",
        )
    return summary


def fit_value_model(*, model: str, orders: Path | None = None, cohort: Path | None = None,
                    calibration_end: date | None = None, time_unit: str = "week",
                    as_of: date, holdout_end: date | None = None,
                    progress: Progress | None = None) -> FitResult:
    """Fit ``model`` (bgnbd, pnbd, gg or sbg) to an orders file or, for sbg, a cohort file."""
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}",
                         field="model")
    if model == "sbg":
        if cohort is None:
            raise InputError("model sbg needs --cohort FILE (a period, alive table)",
                             field="cohort")
        fitted = ShiftedBetaGeoModel().fit(read_cohort(cohort), progress=progress)
        return FitResult(model, fitted, customers=int(fitted.n_observations_ or 0),
                         repeat_buyers=None)
    if orders is None or calibration_end is None:
        raise InputError(f"model {model} needs --orders FILE and --calibration-end YYYY-MM-DD",
                         field="orders" if orders is None else "calibration_end")
    if calibration_end > as_of:
        raise InputError(f"calibration end {calibration_end} is after the as-of date {as_of}",
                         field="calibration_end")
    frame = read_orders(orders)
    summary = summarize_orders(frame, calibration_end=calibration_end, time_unit=time_unit,
                               as_of=as_of, holdout_end=holdout_end)
    ids = summary["customer_id"].tolist()
    x = summary["frequency"].to_numpy(dtype=float)
    fitted: MaximumLikelihoodModel
    if model == "gg":
        fitted = GammaGammaModel().fit(x, summary["monetary_value"], ids=ids, progress=progress)
    else:
        cls = BetaGeoModel if model == "bgnbd" else ParetoNBDModel
        fitted = cls().fit(x, summary["recency"], summary["T"], ids=ids, progress=progress)
    report = None
    if holdout_end is not None and model in TRANSACTION_MODELS:
        report = holdout_report(fitted, summary)  # type: ignore[arg-type]
    return FitResult(model, fitted, customers=len(summary),
                     repeat_buyers=int(np.count_nonzero(x)), holdout=report)


def predict_values(*, transactions: MaximumLikelihoodModel, spend: GammaGammaModel | None,
                   orders: Path, calibration_end: date, time_unit: str, as_of: date,
                   horizon: float, periods: int = 12, discount_rate: float = 0.0,
                   margin: float = 1.0,
                   on_step: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Per customer: expected purchases over ``horizon``, P(alive) and, with a spend model, CLV."""
    if not isinstance(transactions, BetaGeoModel | ParetoNBDModel):
        raise InputError("predictions need a bgnbd or pnbd model", field="model")
    if spend is not None and not isinstance(spend, GammaGammaModel):
        raise InputError("the spend model must be a gg (Gamma-Gamma) model", field="model")
    frame = read_orders(orders)
    if on_step:
        on_step("summary")
    summary = summarize_orders(frame, calibration_end=calibration_end, time_unit=time_unit,
                               as_of=as_of)
    x, tx, T = summary["frequency"], summary["recency"], summary["T"]
    if on_step:
        on_step("predict")
    out = pd.DataFrame({"customer_id": summary["customer_id"]})
    out["expected_purchases"] = transactions.expected_purchases(
        horizon, frequency=x, recency=tx, T=T)
    out["p_alive"] = transactions.probability_alive(frequency=x, recency=tx, T=T)
    if spend is not None:
        expected_spend = spend.expected_spend(frequency=x,
                                              monetary_value=summary["monetary_value"])
        out["expected_spend"] = expected_spend
        out["clv"] = customer_lifetime_value(
            transactions, frequency=x, recency=tx, T=T,  # type: ignore[arg-type]
            expected_spend=expected_spend, horizon=horizon, periods=periods,
            discount_rate=discount_rate, margin=margin,
        )
    return out


def load_model(path: Path) -> MaximumLikelihoodModel:
    """A model saved with ``clm value fit --save`` (JSON, never a pickle)."""
    import json

    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{path}: no such file", file=str(path))
    try:
        data = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path}: not valid JSON: {exc}", file=str(path)) from None
    name = data.get("model") if isinstance(data, dict) else None
    if name not in MODELS:
        raise DataFileError(f"{path}: not a saved clm value model (model={name!r})",
                            file=str(path))
    return MODELS[name].from_dict(data)
