"""Stage-to-stage transitions and time spent in each stage, read from the stage history.

The stage history is a transitions table with one row per stage change: ``customer_id``,
``from_stage`` (empty for a customer's first stage), ``to_stage`` and ``changed_on`` (the
as-of date on which the new stage was first assigned). A customer's stage on day X is the
``to_stage`` of their latest change dated on or before X.

Two views of a period [start, end] (both dates inclusive):

* ``kind="moves"`` counts the changes dated in the period (a customer who went new -> growing
  -> declining contributes two moves);
* ``kind="migration"`` compares each customer's stage on the day before ``start`` with their
  stage on ``end`` (a Markov-style migration matrix; the diagonal holds those who stayed, and
  ``from_stage`` is empty for customers who had no stage yet).

``share`` is the row share: the cell's count over the count of its ``from_stage`` row, i.e.
the empirical transition probability.

Time in stage: a *stay* starts at a change into a stage and ends at the customer's next change.
Completed stays (ended on or before D) give the mean and median length in days; stays still
open at D are counted separately with their length so far (they are right-censored, so
averaging them in would understate stays).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import ibis
import ibis.expr.types as ir

from clm.analytics.value.inputs import check_as_of, ratio, require_columns
from clm.errors import InputError

TRANSITION_COLUMNS = ("customer_id", "from_stage", "to_stage", "changed_on")


def _check(transitions: ir.Table) -> ir.Table:
    require_columns(transitions, table_name="stage_history", columns=TRANSITION_COLUMNS)
    changed = transitions.changed_on
    if changed.type().is_timestamp():
        return transitions.mutate(changed_on=changed.date())
    if not changed.type().is_date():
        raise InputError(f"stage_history column 'changed_on' must be a date, got "
                         f"{changed.type()}", table="stage_history", field="changed_on")
    return transitions


def stages_on(transitions: ir.Table, *, day: dt.date) -> ir.Table:
    """customer_id, stage, stage_since: each customer's stage on ``day`` (changes up to it)."""
    day = check_as_of(day, name="day")
    hist = _check(transitions)
    hist = hist.filter(hist.changed_on <= ibis.date(day))
    order = [ibis.desc(hist.changed_on), ibis.desc(hist.to_stage)]
    latest = hist.mutate(_n=ibis.row_number().over(group_by=hist.customer_id, order_by=order))
    latest = latest.filter(latest._n == 0)
    return latest.select("customer_id", stage=latest.to_stage, stage_since=latest.changed_on)


def _row_share(table: ir.Table, count: str) -> ir.Table:
    row_total = table[count].sum().over(group_by=table.from_stage)
    return table.mutate(share=ratio(table[count], row_total))


def transition_matrix(transitions: ir.Table, *, start: dt.date, end: dt.date,
                      kind: Literal["moves", "migration"] = "moves") -> ir.Table:
    """Stage-to-stage counts over [start, end], long form.

    Returns
    -------
    ibis.Table
        ``moves``: from_stage, to_stage, customers (distinct), transitions, share (of the row's
        transitions). ``migration``: from_stage, to_stage, customers, share.
    """
    start = check_as_of(start, name="start")
    end = check_as_of(end, name="end")
    if end < start:
        raise InputError(f"end {end} is before start {start}", field="end")
    if kind == "moves":
        hist = _check(transitions)
        hist = hist.filter(hist.changed_on >= ibis.date(start), hist.changed_on <= ibis.date(end))
        out = hist.group_by(["from_stage", "to_stage"]).aggregate(
            customers=hist.customer_id.nunique(), transitions=hist.count()
        )
        return _row_share(out, "transitions").order_by(["from_stage", "to_stage"])
    if kind == "migration":
        before = stages_on(transitions, day=start - dt.timedelta(days=1))
        after = stages_on(transitions, day=end)
        joined = after.left_join(before.select("customer_id", from_stage=before.stage),
                                 "customer_id")
        pairs = joined.select("customer_id", "from_stage", to_stage=joined.stage)
        out = pairs.group_by(["from_stage", "to_stage"]).aggregate(customers=pairs.count())
        return _row_share(out, "customers").order_by(["from_stage", "to_stage"])
    raise InputError(f"kind must be 'moves' or 'migration', got {kind!r}", field="kind")


def time_in_stage(transitions: ir.Table, *, as_of: dt.date) -> ir.Table:
    """Length of stays per stage as of D.

    Returns
    -------
    ibis.Table
        stage, completed_stays, mean_days, median_days (of completed stays), open_stays,
        mean_open_days (length so far of the stays open at D).
    """
    as_of = check_as_of(as_of)
    hist = _check(transitions)
    hist = hist.filter(hist.changed_on <= ibis.date(as_of))
    nxt = hist.changed_on.lead().over(group_by=hist.customer_id,
                                      order_by=[hist.changed_on, hist.to_stage])
    stays = hist.mutate(ended_on=nxt)
    completed = stays.ended_on.notnull()
    length = ibis.cases(
        (completed, stays.ended_on.delta(stays.changed_on, unit="day")),
        else_=ibis.date(as_of).delta(stays.changed_on, unit="day"),
    ).cast("float64")
    # completed and open lengths as separate columns (empty otherwise) rather than
    # ``median(where=...)``: Ibis 12 on Spark puts the filter on the percentage argument too,
    # which Spark refuses (NON_FOLDABLE_INPUT)
    stays = stays.mutate(
        done_days=ibis.cases((completed, length), else_=ibis.null("float64")),
        open_days=ibis.cases((completed, ibis.null("float64")), else_=length),
    )
    out = stays.group_by(stage=stays.to_stage).aggregate(
        completed_stays=stays.done_days.count(),
        mean_days=stays.done_days.mean(),
        median_days=stays.done_days.median(),
        open_stays=stays.open_days.count(),
        mean_open_days=stays.open_days.mean(),
    )
    return out.order_by("stage")


def stage_churn_rate(transitions: ir.Table, *, months: list[tuple[dt.date, dt.date]],
                     churned: str = "churned") -> ir.Table:
    """Share of customers not churned at a period's start who moved into ``churned`` in it.

    ``months`` lists the periods as (first day, last day); a customer counts in the base of a
    period when they had a stage other than ``churned`` on the day before it starts.

    Returns
    -------
    ibis.Table
        period_start, period_end, at_risk (base), churned, churn_rate.
    """
    if not months:
        raise InputError("months must list at least one (start, end) period", field="months")
    hist = _check(transitions)
    parts = []
    for first, last in months:
        first = check_as_of(first, name="start")
        last = check_as_of(last, name="end")
        base = stages_on(hist, day=first - dt.timedelta(days=1))
        base = base.filter(base.stage != churned).select("customer_id")
        moved = hist.filter(hist.to_stage == churned, hist.changed_on >= ibis.date(first),
                            hist.changed_on <= ibis.date(last))
        moved = moved.select("customer_id").distinct().mutate(moved=ibis.literal(1))
        joined = base.left_join(moved, "customer_id")
        agg = joined.aggregate(at_risk=joined.count(),
                               churned=joined.moved.count())
        parts.append(agg.mutate(period_start=ibis.date(first), period_end=ibis.date(last)))
    out = ibis.union(*parts) if len(parts) > 1 else parts[0]
    out = out.mutate(churn_rate=ratio(out.churned, out.at_risk))
    return out.select("period_start", "period_end", "at_risk", "churned",
                      "churn_rate").order_by("period_start")
