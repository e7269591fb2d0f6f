"""Per-customer aggregates as of a date, carried forward from one date to the next.

A backfill evaluates a series of dates D1 < D2 < ... Most features look back at most 90 days;
the others are cumulative (order count and spend since the beginning, first and last order,
the month mask of the active-months streak, first order amount, lead forms, onboarding,
referrals, latest survey scores, first sign of life). Recomputing those at every date rescans
the whole history each time: at 1M customers and 40M rows that was one full scan per date.

The state as of D_k is the state as of D_(k-1) combined with the rows dated in
(D_(k-1), D_k]: counts and sums add, first dates take the least, last dates the greatest, the
month mask shifts by the months between the two dates, and a first order amount or a latest
score is the new one only when the new rows hold the first order or a later answer.

A step reads each source once: the rows since the earlier of D_(k-1) and the start of the
90-day window, aggregated in one pass into both the new cumulative values (rows after
D_(k-1) only) and the window aggregates as of D_k. The state is one table with a row per
customer (the customer's own dates, the cumulative values and the window aggregates), so the
features are a projection of it plus the distinct features used in the last 30 days: measured
at 1M customers, this halved the joins of a step compared with one state table per source.
``compute_features(..., state=...)`` derives the same features as a computation from scratch;
``tests/analytics/test_feature_state.py`` checks they are equal date by date.

The state's table is an Ibis expression; the caller materialises it (``.cache()``) before
carrying it to the next date, or the expression would grow with every step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from clm.analytics.features import behaviour, interactions, transactions
from clm.analytics.features.asof import WINDOW_DAYS, AsOf, check_as_of
from clm.errors import InputError

CUSTOMER_COLUMNS = ("customer_id", "signup_date", "unsubscribed_on", "account_closed_on")
ORDER_COLUMNS = (
    "order_count", "spend_total", "first_paid_at", "last_paid_at", "first_order_at",
    "month_mask", "first_order_amount",
)
EVENT_COLUMNS = ("lead_forms_total", "onboarded_at", "first_event_at")
INTERACTION_COLUMNS = (
    "referrals_total", "satisfaction_at", "nps_at", "first_interaction_at",
    "satisfaction_latest", "nps_latest",
)

# the source columns a state reads
ORDER_READ = ("customer_id", "ordered_at", "amount", "status")
EVENT_READ = ("customer_id", "occurred_at", "event_type")
INTERACTION_READ = ("customer_id", "occurred_at", "interaction_type", "score")


@dataclass(frozen=True)
class FeatureState:
    """Everything but the 30-day distinct features that the features as of ``as_of`` read:
    one row per customer with ``CUSTOMER_COLUMNS``, the cumulative ``*_COLUMNS`` and each
    source's ``window_columns`` as of ``as_of``."""

    as_of: dt.date
    table: ir.Table

    def cache(self) -> FeatureState:
        """The same state with its table materialised in the backend."""
        return FeatureState(self.as_of, self.table.cache())

    def release(self) -> None:
        """Drop the materialised table of a state from ``cache()``."""
        self.table.release()


@dataclass(frozen=True)
class _Scan:
    """The rows one state reads: dated on or before D and from ``since`` on (None: all), of
    which those from ``new_from`` on are new (None: every row read is new)."""

    asof: AsOf
    since: dt.datetime | None = None
    new_from: dt.datetime | None = None

    def rows(
        self, table: ir.Table, ts: str, columns: tuple[str, ...]
    ) -> tuple[ir.Table, ir.BooleanValue | None]:
        """The rows read, narrowed to ``columns``, and which of them are new.

        Narrowing first matters: the rows are read twice (the aggregate and its follow-up
        join), so DuckDB materialises them once, with every column of the table unless told
        otherwise (measured at 1M customers: 0.94 s of scan and 0.42 s of materialising per
        date for the orders with their ids and provenance, against about a third of that).
        """
        table = table.select(*columns)
        keep = table[ts] < self.asof.end
        if self.since is not None:
            keep = keep & (table[ts] >= ibis.literal(self.since, type="timestamp"))
        rows = table.filter(keep)
        new = None
        if self.new_from is not None:
            new = rows[ts] >= ibis.literal(self.new_from, type="timestamp")
        return rows, new


def _scan(asof: AsOf, after: AsOf) -> _Scan:
    """After a state as of D0: the rows after D0 plus the rows of the 90-day window (which
    reaches further back when D0 is less than 90 days ago)."""
    after_end = dt.datetime.combine(after.day + dt.timedelta(days=1), dt.time())
    window = dt.datetime.combine(asof.day - dt.timedelta(days=WINDOW_DAYS - 1), dt.time())
    if window >= after_end:
        return _Scan(asof, since=after_end)
    return _Scan(asof, since=window, new_from=after_end)


def _orders(orders: ir.Table, scan: _Scan) -> ir.Table:
    o, new = scan.rows(orders, "ordered_at", ORDER_READ)
    agg = o.group_by("customer_id").aggregate(
        **transactions.cumulative_columns(o, scan.asof, new),
        **transactions.window_columns(o, scan.asof),
    )
    # a carried state's first_paid_at is the earliest *new* paid order: only new rows match it
    # (at a monthly step, the join probes a month of orders instead of 90 days)
    candidates = o if new is None else o.filter(new)
    firsts = transactions.first_order_amounts(candidates, agg, scan.asof).rename(
        _fa_id="customer_id"
    )
    joined = agg.left_join(firsts, agg.customer_id == firsts._fa_id)
    return joined.drop("_fa_id")


def _events(events: ir.Table, scan: _Scan) -> ir.Table:
    e, new = scan.rows(events, "occurred_at", EVENT_READ)
    return e.group_by("customer_id").aggregate(
        **behaviour.cumulative_columns(e, new), **behaviour.window_columns(e, scan.asof)
    )


def _interactions(table: ir.Table, scan: _Scan) -> ir.Table:
    i, new = scan.rows(table, "occurred_at", INTERACTION_READ)
    agg = i.group_by("customer_id").aggregate(
        **interactions.cumulative_columns(i, new), **interactions.window_columns(i, scan.asof)
    )
    scores = interactions.latest_scores(i, agg, scan.asof).rename(_ls_id="customer_id")
    joined = agg.left_join(scores, agg.customer_id == scores._ls_id)
    return joined.drop("_ls_id")


def _window_names(asof: AsOf) -> tuple[str, ...]:
    """The names of every source's window columns (the same for any date)."""
    names: list[str] = []
    for source, columns in (
        ({"ordered_at": "timestamp", "status": "string", "amount": "float64"},
         transactions.window_columns),
        ({"occurred_at": "timestamp", "event_type": "string"}, behaviour.window_columns),
        ({"occurred_at": "timestamp", "interaction_type": "string"},
         interactions.window_columns),
    ):
        names += columns(ibis.table(source, name="_shape"), asof)
    return tuple(names)


def left_join_all(base: ir.Table, parts: list[ir.Table]) -> ir.Table:
    """``base`` left-joined on ``customer_id`` to each part in turn."""
    for n, part in enumerate(parts):
        key = f"_k{n}"
        part = part.rename({key: "customer_id"})
        base = base.left_join(part, base.customer_id == part[key]).drop(key)
    return base


def _join_all(base: ir.Table, parts: list[ir.Table]) -> ir.Table:
    """``left_join_all`` with the parts' columns prefixed ``n_`` (the new values)."""
    return left_join_all(base, [
        part.rename({f"n_{c}": c for c in part.columns if c != "customer_id"})
        for part in parts
    ])


def _from_scratch(tables: Mapping[str, ir.Table], asof: AsOf) -> ir.Table:
    scan = _Scan(asof)
    j = _join_all(
        tables["customers"].select(*CUSTOMER_COLUMNS),
        [_orders(tables["orders"], scan), _events(tables["events"], scan),
         _interactions(tables["interactions"], scan)],
    )
    carried = (*ORDER_COLUMNS, *EVENT_COLUMNS, *INTERACTION_COLUMNS, *_window_names(asof))
    return j.select(*CUSTOMER_COLUMNS, **{c: j[f"n_{c}"] for c in carried})


def _add(j: ir.Table, name: str) -> ir.Value:
    return j[name].fill_null(0) + j[f"n_{name}"].fill_null(0)


def _least(j: ir.Table, name: str) -> ir.Value:
    return ibis.least(j[name], j[f"n_{name}"])


def _greatest(j: ir.Table, name: str) -> ir.Value:
    return ibis.greatest(j[name], j[f"n_{name}"])


def _month_mask(j: ir.Table, months: int) -> ir.Value:
    """The old mask shifted by the ``months`` between the two dates, OR the new rows' bits."""
    mask = transactions.MASK_MONTHS
    if months >= mask:
        carried = ibis.literal(0, type="int64")
    else:
        keep = (1 << (mask - months)) - 1  # the bits that stay inside the mask once shifted
        shift = ibis.literal(months, type="int32")
        carried = (j.month_mask.fill_null(0) & keep) << shift
    return (carried | j.n_month_mask.fill_null(0)).cast("int64")


def _carried(tables: Mapping[str, ir.Table], asof: AsOf, previous: FeatureState) -> ir.Table:
    before = check_as_of(previous.as_of)
    scan = _scan(asof, before)
    j = _join_all(
        previous.table,
        [_orders(tables["orders"], scan), _events(tables["events"], scan),
         _interactions(tables["interactions"], scan)],
    )
    # every new row is later than every old one: a new answer replaces the old latest
    sat_new, nps_new = j.n_satisfaction_at.notnull(), j.n_nps_at.notnull()
    combined = {
        "order_count": _add(j, "order_count"),
        "spend_total": _add(j, "spend_total"),
        "first_paid_at": _least(j, "first_paid_at"),
        "last_paid_at": _greatest(j, "last_paid_at"),
        "first_order_at": _least(j, "first_order_at"),
        "month_mask": _month_mask(j, asof.month_index - before.month_index),
        # a new first order exists only for a customer who had none before
        "first_order_amount": ibis.coalesce(j.first_order_amount, j.n_first_order_amount),
        "lead_forms_total": _add(j, "lead_forms_total"),
        "onboarded_at": _least(j, "onboarded_at"),
        "first_event_at": _least(j, "first_event_at"),
        "referrals_total": _add(j, "referrals_total"),
        "satisfaction_at": _greatest(j, "satisfaction_at"),
        "nps_at": _greatest(j, "nps_at"),
        "first_interaction_at": _least(j, "first_interaction_at"),
        "satisfaction_latest": sat_new.ifelse(j.n_satisfaction_latest, j.satisfaction_latest),
        "nps_latest": nps_new.ifelse(j.n_nps_latest, j.nps_latest),
    }
    windows = {c: j[f"n_{c}"] for c in _window_names(asof)}
    return j.select(*CUSTOMER_COLUMNS, **combined, **windows)


def cumulative_state(
    tables: Mapping[str, ir.Table], *, as_of: dt.date, previous: FeatureState | None = None
) -> FeatureState:
    """The state as of ``as_of``: from scratch, or from ``previous`` plus the rows dated after
    it (and the last 90 days, for the windows).

    Raises
    ------
    InputError
        If ``previous`` is not dated before ``as_of``.
    """
    asof = check_as_of(as_of)
    if previous is None:
        return FeatureState(as_of, _from_scratch(tables, asof))
    if previous.as_of >= as_of:
        raise InputError(
            f"a feature state as of {previous.as_of} cannot be carried back to {as_of}",
            field="as_of",
        )
    return FeatureState(as_of, _carried(tables, asof, previous))
