"""Per-customer values for a run: probabilistic CLV, RFM, tiers, and the metrics of the record.

The model values (P(alive), expected purchases, CLV) come from fitting BG/NBD and Gamma-Gamma
(Fader, Hardie & Lee 2005) to the paid orders up to the as-of date, in weeks, as the published
models do. A business with too few repeat buyers cannot be fitted; then the model columns are
empty and the reason is reported, instead of the run failing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from clm.analytics.clv import BetaGeoModel, GammaGammaModel, customer_lifetime_value, rfm_summary
from clm.analytics.feature_catalog import FEATURES
from clm.analytics.features import compute_features, feature_usage, order_dates
from clm.analytics.value import value_features
from clm.errors import ModelFitError

WEEKS_PER_YEAR = 52.0
EXPECTED_PURCHASES_WEEKS = 13.0  # the next 90 days
VALUES_COLUMNS = [
    "customer_id",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "value_tier",
    "clv",
    "p_alive",
    "expected_purchases",
]


@dataclass
class ModelValues:
    """Per-customer model predictions, or why there are none."""

    frame: pd.DataFrame | None
    params: dict[str, dict[str, float]] = field(default_factory=dict)
    note: str | None = None


def model_values(
    orders: ibis.Table, *, as_of: dt.date, annual_discount_rate: float = 0.10, margin: float = 1.0
) -> ModelValues:
    """Fit BG/NBD + Gamma-Gamma as of ``as_of`` and predict each buyer's values.

    CLV is the discounted expected spend over the next 52 weeks in 12 steps (a monthly
    discount rate equivalent to ``annual_discount_rate``), times ``margin``.
    """
    summary = rfm_summary(orders, calibration_end=as_of, time_unit="week", validate=False).execute()
    if summary.empty:
        return ModelValues(None, note="no paid orders up to the as-of date")
    x = summary["frequency"].to_numpy(float)
    t_x = summary["recency"].to_numpy(float)
    big_t = summary["T"].to_numpy(float)
    try:
        bgnbd = BetaGeoModel().fit(x, t_x, big_t)
    except ModelFitError as exc:
        return ModelValues(None, note=f"BG/NBD not fitted: {exc.message}")
    out = pd.DataFrame({"customer_id": summary["customer_id"].astype(str)})
    out["p_alive"] = bgnbd.probability_alive(frequency=x, recency=t_x, T=big_t)
    out["expected_purchases"] = bgnbd.expected_purchases(
        EXPECTED_PURCHASES_WEEKS, frequency=x, recency=t_x, T=big_t
    )
    params = {"bgnbd": dict(bgnbd.params_)}
    monetary = summary["monetary_value"].to_numpy(float)
    repeat = (x > 0) & (monetary > 0)
    note = None
    try:
        gg = GammaGammaModel().fit(x[repeat], monetary[repeat])
        spend = gg.expected_spend(frequency=x, monetary_value=np.where(repeat, monetary, 0.0))
        monthly = (1.0 + annual_discount_rate) ** (1 / 12) - 1
        out["clv"] = customer_lifetime_value(
            bgnbd,
            frequency=x,
            recency=t_x,
            T=big_t,
            expected_spend=spend,
            horizon=WEEKS_PER_YEAR,
            periods=12,
            discount_rate=monthly,
            margin=margin,
        )
        params["gg"] = dict(gg.params_)
    except ModelFitError as exc:
        out["clv"] = np.nan
        note = f"Gamma-Gamma not fitted: {exc.message}"
    for col in ("p_alive", "expected_purchases", "clv"):
        out[col] = out[col].astype(float).round(4)
    return ModelValues(out, params=params, note=note)


def values_frame(
    tables: dict[str, ibis.Table], *, as_of: dt.date, models: ModelValues
) -> pd.DataFrame:
    """``OUT/values.csv``: RFM scores and segment, tier and model values per customer."""
    mv = ibis.memtable(models.frame) if models.frame is not None else None
    frame = value_features(
        tables["orders"], tables["customers"], as_of=as_of, model_values=mv
    ).execute()
    for col in VALUES_COLUMNS:
        if col not in frame.columns:
            frame[col] = np.nan
    for col in ("r_score", "f_score", "m_score"):
        frame[col] = frame[col].astype("Int64")
    return frame[VALUES_COLUMNS].sort_values("customer_id", kind="stable").reset_index(drop=True)


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date | pd.Timestamp):
        return value.isoformat()
    return str(value)


def metrics_frame(
    tables: dict[str, ibis.Table], *, as_of: dt.date, values: pd.DataFrame
) -> pd.DataFrame:
    """One row per customer for the store's ``customer_metrics`` (the tracking record)."""
    features = compute_features(tables, as_of=as_of).execute()
    dates = order_dates(tables, as_of=as_of).execute()
    usage = feature_usage(tables, as_of=as_of).execute()
    frame = features.merge(dates, on="customer_id", how="left")
    frame = frame.merge(values, on="customer_id", how="left")
    by_customer = {
        cid: dict(zip(g["feature"], g["uses"].astype(int), strict=True))
        for cid, g in usage.groupby("customer_id", sort=False)
    }
    names = [f.name for f in FEATURES]
    records = frame[names].astype(object).where(frame[names].notna(), None).to_dict("records")
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str),
            "as_of": as_of,
            "order_count": frame["order_count"].fillna(0).astype(int),
            "total_spend": frame["total_spend"].fillna(0.0).astype(float),
            "avg_order_value": frame["avg_order_value"],
            "first_order_date": frame["first_order_date"],
            "last_order_date": frame["last_order_date"],
            "days_since_last_order": frame["days_since_last_order"],
            "active_days_30d": frame["active_days_30d"].fillna(0).astype(int),
            "feature_usage": [
                json.dumps(by_customer.get(c, {}), ensure_ascii=False, sort_keys=True)
                for c in frame["customer_id"]
            ],
            "features": [json.dumps(r, ensure_ascii=False, default=_json_default) for r in records],
        }
    )
    for col in VALUES_COLUMNS[1:]:
        out[col] = frame[col]
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)
