"""Why is this customer in this stage? Every criterion of the model judged on their features.

The batch output carries the reasons that held; a person asking "why" also wants to see what
did not hold and by how much, in their language. This reads one customer's features as of a
date from the warehouse and judges every guard and criterion of the model on them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from clm.analytics.rules import Reason, StageModel, explain
from clm.errors import NotFoundError
from clm.services.history import StageHistory
from clm.warehouse import Warehouse


@dataclass(frozen=True)
class CustomerExplanation:
    customer_id: str
    as_of: dt.date
    stage: str | None
    stage_label: str | None
    stage_since: dt.date | None
    previous_stage: str | None
    reasons: list[Reason]


def explain_customer(
    warehouse: Warehouse,
    *,
    model: StageModel,
    customer_id: str,
    as_of: dt.date,
    locale: str = "en",
) -> CustomerExplanation:
    """The stored stage of ``customer_id`` as of ``as_of`` and every criterion judged."""
    tables = warehouse.input_tables()
    customers = tables["customers"]
    if not int(customers.filter(customers.customer_id == customer_id).count().execute()):
        known = customers.select("customer_id").limit(3).execute()["customer_id"].tolist()
        raise NotFoundError(
            f"no customer {customer_id!r} in the warehouse (e.g. {', '.join(known) or 'none'})",
            customer_id=customer_id,
        )
    # Features over everyone, then one row: percentiles rank a customer among all customers;
    # the history's features include the value features when the model reads them.
    history = StageHistory(warehouse, model=model)
    features = history.features(as_of)
    row = features.filter(features.customer_id == customer_id).execute().iloc[0].to_dict()
    row = {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in row.items()}
    state = (
        history.state_before(as_of + dt.timedelta(days=1))
        .filter(lambda t: t.customer_id == customer_id)
        .execute()
    )
    stage = since = previous = None
    if not state.empty:
        stage = str(state.stage.iloc[0])
        since = pd.Timestamp(state.stage_since.iloc[0]).date()
        prev = state.previous_stage.iloc[0]
        previous = None if pd.isna(prev) else str(prev)
    return CustomerExplanation(
        customer_id=customer_id,
        as_of=as_of,
        stage=stage,
        stage_label=model.label(stage, locale) if stage else None,
        stage_since=since,
        previous_stage=previous,
        reasons=explain(model, row, locale),
    )
