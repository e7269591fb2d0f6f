"""Calibration/holdout check: predicted against actual purchases in a holdout period.

A fitted transaction model is only worth trusting if it predicts purchases it has not seen.
Following the validation of Fader, Hardie & Lee (2005, Marketing Science 24(2), fig. 4), the
customers are grouped by their number of repeat purchases in the calibration period and, per
group, the purchases they actually made in the holdout are set beside the model's conditional
expectation. A model that tracks the groups, including the heavy buyers (regression to the
mean) and the one-time buyers (who may be dead), can be used for planning.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from clm.errors import InputError

REPORT_COLUMNS: tuple[str, ...] = (
    "frequency_cal", "customers", "actual_purchases", "predicted_purchases",
    "actual_per_customer", "predicted_per_customer",
)
_NEEDED = ("frequency", "recency", "T", "frequency_holdout", "duration_holdout")


class TransactionModel(Protocol):
    def expected_purchases(self, t: float, *, frequency: Any, recency: Any, T: Any
                           ) -> np.ndarray: ...


def holdout_report(model: TransactionModel, summary: pd.DataFrame, *,
                   max_frequency: int = 7) -> pd.DataFrame:
    """Predicted vs actual holdout purchases per calibration frequency, and in total.

    Parameters
    ----------
    model
        A fitted BG/NBD or Pareto/NBD model.
    summary
        The output of ``calibration_holdout_summary`` (executed to a DataFrame).
    max_frequency
        Calibration frequencies above this are pooled into one ``"<max>+"`` row.

    Returns
    -------
    DataFrame with ``REPORT_COLUMNS``; the last row, ``frequency_cal == "total"``, sums all
    customers.
    """
    missing = [c for c in _NEEDED if c not in summary.columns]
    if missing:
        raise InputError(f"holdout summary lacks column {', '.join(missing)}", field=missing[0])
    if len(summary) == 0:
        raise InputError("holdout summary is empty: no customer bought in the calibration period")
    duration = float(summary["duration_holdout"].iloc[0])
    predicted = model.expected_purchases(
        duration, frequency=summary["frequency"], recency=summary["recency"], T=summary["T"]
    )
    freq = summary["frequency"].to_numpy().astype(int)
    bucket = np.minimum(freq, max_frequency)
    frame = pd.DataFrame({
        "bucket": bucket,
        "actual": summary["frequency_holdout"].to_numpy(dtype=float),
        "predicted": predicted,
    })
    grouped = frame.groupby("bucket").agg(
        customers=("actual", "size"), actual_purchases=("actual", "sum"),
        predicted_purchases=("predicted", "sum"),
    ).reset_index()
    labels = [f"{b}+" if b == max_frequency and (freq > max_frequency).any() else str(b)
              for b in grouped["bucket"]]
    grouped.insert(0, "frequency_cal", labels)
    grouped = grouped.drop(columns="bucket")
    total = pd.DataFrame([{
        "frequency_cal": "total", "customers": len(frame),
        "actual_purchases": frame["actual"].sum(), "predicted_purchases": frame["predicted"].sum(),
    }])
    report = pd.concat([grouped, total], ignore_index=True)
    report["customers"] = report["customers"].astype(int)
    report["actual_per_customer"] = report["actual_purchases"] / report["customers"]
    report["predicted_per_customer"] = report["predicted_purchases"] / report["customers"]
    return report[list(REPORT_COLUMNS)]
