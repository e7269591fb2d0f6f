"""Benchmark data: a million customers and tens of millions of rows, as Parquet, quickly.

The demo generator tells a careful story per customer; this one only has to make the feature
computation do representative work at scale, cheaply: skewed order counts per customer
(a lognormal activity weight, so a few customers own many orders, as in real retail data,
cf. Fader, Hardie & Lee 2005), a share of prospects without orders, customers who stop
buying part-way, and dates spread over two years. Rows are drawn chunk by chunk of customers
with numpy and turned into Arrow arrays with vectorised Arrow compute (no Python string per
row), then streamed through ``pyarrow.parquet.ParquetWriter``; memory stays bounded by one
chunk. Column types are the warehouse's (``clm.warehouse.canonical_schema``) without the trace
columns: strings, ``date32``, ``timestamp[us]``, ``float64``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from clm.datasets.activity import CORE_FEATURES
from clm.datasets.people import (
    CHANNELS,
    FIRST,
    GIVEN,
    INDUSTRIES,
    LAST,
    MOBILE_PREFIXES,
    OWNERS,
    SURNAMES,
)
from clm.domain.contract import EVENT_TYPES, INTERACTION_TYPES, TABLES
from clm.errors import DataFileError, InputError
from clm.warehouse import TRACE_COLUMNS, canonical_schema

_DAY_US = 86_400_000_000
_CHUNK = 100_000  # customers per chunk: about 2M orders and 2M events at the default sizes
# event-type mix of buyers and of prospects, in EVENT_TYPES order
_BUYER_EVENTS = (0.10, 0.004, 0.012, 0.004, 0.33, 0.48, 0.07)
_PROSPECT_EVENTS = (0.80, 0.10, 0.10, 0.0, 0.0, 0.0, 0.0)
# low-cardinality columns worth dictionary-encoding in Parquet (ids and times are not)
_DICTIONARY = ("customer_id", "name", "industry", "owner", "acquisition_channel", "status",
               "event_type", "feature", "interaction_type")
# interaction-type mix, in INTERACTION_TYPES order
_INTERACTIONS = (0.58, 0.08, 0.15, 0.12, 0.07)


def schema(table: str) -> pa.Schema:
    """The Arrow schema of a benchmark file: the warehouse columns minus the trace columns."""
    full = canonical_schema(TABLES[table]).to_pyarrow()
    return pa.schema([f for f in full if f.name not in TRACE_COLUMNS])


@dataclass
class _Population:
    """Per-customer latent values for the whole population (a few arrays of 1M entries)."""

    signup: np.ndarray  # day
    first: np.ndarray  # day of first activity as a buyer
    last: np.ndarray  # day activity stops (end for active customers)
    buyer: np.ndarray
    orders: np.ndarray  # counts per customer
    events: np.ndarray
    interactions: np.ndarray
    base_amount: np.ndarray


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` as an Arrow string array, built as raw bytes.

    Fixed-width ASCII written digit by digit with numpy, then wrapped as Arrow buffers: no
    Python string per row and no int-to-string cast, the slowest steps of a naive version.
    """
    numbers = np.asarray(numbers, np.int64)
    n, head = numbers.size, len(prefix)
    size = head + width
    raw = np.empty((n, size), np.uint8)
    raw[:, :head] = np.frombuffer(prefix.encode("ascii"), np.uint8)
    rest = numbers.copy()
    for k in range(size - 1, head - 1, -1):
        raw[:, k] = rest % 10 + 48
        rest //= 10
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(raw))


def _allocate(rng: np.random.Generator, total: int, weight: np.ndarray) -> np.ndarray:
    """Split ``total`` rows over customers in proportion to ``weight`` (exact total)."""
    if total == 0 or weight.sum() == 0:
        return np.zeros(weight.size, np.int64)
    return rng.multinomial(total, weight / weight.sum()).astype(np.int64)


def _population(rng: np.random.Generator, n: int, end: int, *, orders: int, events: int,
                interactions: int) -> _Population:
    signup = rng.integers(0, end + 1, n)
    buyer = rng.random(n) < 0.8
    first = np.minimum(signup + rng.exponential(20.0, n).astype(np.int64), end)
    stops = rng.random(n) < 0.35
    last = np.where(stops, np.minimum(first + rng.exponential(200.0, n).astype(np.int64), end),
                    end)
    span = (last - first + 30).astype(float)
    activity = rng.lognormal(0.0, 1.2, n)
    order_weight = np.where(buyer, activity * span, 0.0)
    event_weight = np.where(buyer, activity**0.7 * span, 0.15 * (end - signup + 1))
    return _Population(
        signup=signup, first=np.where(buyer, first, signup), last=np.where(buyer, last, end),
        buyer=buyer,
        orders=_allocate(rng, orders, order_weight),
        events=_allocate(rng, events, event_weight),
        interactions=_allocate(rng, interactions, np.where(buyer, span, 0.0)),
        base_amount=rng.lognormal(np.log(600.0), 0.7, n),
    )


def _chunks(n: int) -> Iterator[slice]:
    for lo in range(0, n, _CHUNK):
        yield slice(lo, min(lo + _CHUNK, n))


def _times(rng: np.random.Generator, owner: np.ndarray, lo_day: np.ndarray,
           hi_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Owners and microseconds since the start, uniform from ``lo``'s start to ``hi``'s end,
    ordered by day (a stable radix sort on 16-bit days; within a day, by customer)."""
    day = lo_day + np.floor(rng.random(lo_day.size) * (hi_day - lo_day + 1)).astype(np.int64)
    order = np.argsort(day.astype(np.int16), kind="stable")
    day = day[order]
    micros = day * _DAY_US + rng.integers(0, 86_400, day.size) * 1_000_000  # whole seconds
    return owner[order], micros


def _stamp(start_us: int, micros: np.ndarray) -> pa.Array:
    return pa.array(micros + start_us, pa.timestamp("us"))


def _pick(values: tuple[str, ...], index: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(index))


def _customers(rng: np.random.Generator, pop: _Population, sl: slice, *, width: int,
               start: date, end: int) -> pa.Table:
    n = sl.stop - sl.start
    numbers = np.arange(sl.start + 1, sl.stop + 1)
    names = tuple(s + g for s, _ in SURNAMES for g, _ in GIVEN) + tuple(
        f"{a} {b}" for a in FIRST for b in LAST)
    prefix = np.asarray(MOBILE_PREFIXES, np.int64)[rng.integers(0, len(MOBILE_PREFIXES), n)]
    phone = _ids("", prefix * 10**8 + rng.integers(0, 10**8, n), 11)
    email = pc.binary_join_element_wise(
        _ids("u", numbers, width), pa.scalar("@example.com"), "")
    day0 = np.datetime64(start, "D")
    active = ~pop.buyer[sl] | (pop.last[sl] >= end)  # only customers who stopped leave
    unsub_days = pop.last[sl] + rng.integers(7, 120, n)
    unsub_days[active | (rng.random(n) < 0.5) | (unsub_days > end)] = -1
    close_days = pop.last[sl] + rng.integers(30, 240, n)
    close_days[active | (rng.random(n) < 0.7) | (close_days > end)] = -1

    def dates(days: np.ndarray) -> pa.Array:
        return pa.array(day0 + days, pa.date32(), mask=days < 0)

    columns = {
        "customer_id": _ids("C", numbers, width),
        "name": _pick(names, rng.integers(0, len(names), n)),
        "industry": _pick(INDUSTRIES, rng.integers(0, len(INDUSTRIES), n)),
        "phone": phone,
        "email": email,
        "owner": _pick(OWNERS, rng.integers(0, len(OWNERS), n)),
        "acquisition_channel": _pick(CHANNELS, rng.integers(0, len(CHANNELS), n)),
        "signup_date": dates(pop.signup[sl]),
        "unsubscribed_on": dates(unsub_days),
        "account_closed_on": dates(close_days),
    }
    return pa.Table.from_pydict(columns, schema=schema("customers"))


def _owner_rows(pop_counts: np.ndarray, sl: slice) -> np.ndarray:
    return np.repeat(np.arange(sl.start, sl.stop), pop_counts[sl])


def _orders(rng: np.random.Generator, pop: _Population, sl: slice, *, first_id: int,
            width: int, start_us: int) -> pa.Table:
    owner = _owner_rows(pop.orders, sl)
    owner, micros = _times(rng, owner, pop.first[owner], pop.last[owner])
    amount = np.round(pop.base_amount[owner] * rng.lognormal(0.0, 0.35, owner.size), 2)
    status = rng.choice(3, size=owner.size, p=(0.955, 0.03, 0.015))
    columns = {
        "order_id": _ids("O", np.arange(first_id, first_id + owner.size), 10),
        "customer_id": _ids("C", owner + 1, width),
        "ordered_at": _stamp(start_us, micros),
        "amount": pa.array(amount, pa.float64()),
        "status": _pick(("paid", "refunded", "cancelled"), status),
    }
    return pa.Table.from_pydict(columns, schema=schema("orders"))


def _events(rng: np.random.Generator, pop: _Population, sl: slice, *, width: int,
            start_us: int) -> pa.Table:
    owner = _owner_rows(pop.events, sl)
    lo = np.where(pop.buyer[owner], np.maximum(pop.first[owner] - 14, pop.signup[owner]),
                  pop.signup[owner])
    owner, micros = _times(rng, owner, lo, pop.last[owner])
    buyer = pop.buyer[owner]
    kind = np.where(buyer, rng.choice(len(EVENT_TYPES), owner.size, p=_BUYER_EVENTS),
                    rng.choice(len(EVENT_TYPES), owner.size, p=_PROSPECT_EVENTS))
    feature = rng.integers(0, len(CORE_FEATURES), owner.size)
    is_feature = kind == EVENT_TYPES.index("feature_used")
    columns = {
        "customer_id": _ids("C", owner + 1, width),
        "occurred_at": _stamp(start_us, micros),
        "event_type": _pick(EVENT_TYPES, kind),
        "feature": pc.if_else(pa.array(is_feature), _pick(CORE_FEATURES, feature),
                              pa.scalar(None, pa.string())),
    }
    return pa.Table.from_pydict(columns, schema=schema("events"))


def _interactions(rng: np.random.Generator, pop: _Population, sl: slice, *, width: int,
                  start_us: int, customers: int) -> pa.Table:
    owner = _owner_rows(pop.interactions, sl)
    owner, micros = _times(rng, owner, pop.first[owner], pop.last[owner])
    kind = rng.choice(len(INTERACTION_TYPES), owner.size, p=_INTERACTIONS)
    scored = np.isin(kind, [INTERACTION_TYPES.index("satisfaction"),
                            INTERACTION_TYPES.index("nps")])
    score = np.clip(np.round(rng.normal(7.5, 2.0, owner.size)), 0, 10)
    referral = kind == INTERACTION_TYPES.index("referral")
    referee = rng.integers(1, customers + 1, owner.size)
    columns = {
        "customer_id": _ids("C", owner + 1, width),
        "occurred_at": _stamp(start_us, micros),
        "interaction_type": _pick(INTERACTION_TYPES, kind),
        "score": pa.array(score, pa.float64(), mask=~scored),
        "referred_customer_id": pc.if_else(pa.array(referral), _ids("C", referee, width),
                                           pa.scalar(None, pa.string())),
    }
    return pa.Table.from_pydict(columns, schema=schema("interactions"))


def generate_bench(folder: Path, *, customers: int = 1_000_000, orders: int = 20_000_000,
                   events: int = 20_000_000, interactions: int = 2_000_000, seed: int = 1,
                   start: date = date(2024, 1, 1),
                   end: date = date(2025, 12, 31)) -> dict[str, Path]:
    """Write ``customers.parquet``, ``orders.parquet``, ``events.parquet`` and
    ``interactions.parquet`` with exactly the requested row counts into ``folder``.

    Raises
    ------
    InputError
        If a count is negative, there are no customers, or ``end`` is before ``start``.
    DataFileError
        If ``folder`` cannot be written.
    """
    for name, value in (("orders", orders), ("events", events),
                        ("interactions", interactions)):
        if value < 0:
            raise InputError(f"{name} must be zero or more, got {value}", field=name)
    if customers < 1:
        raise InputError(f"customers must be at least 1, got {customers}", field="customers")
    if end < start:
        raise InputError(f"end {end} is before start {start}", field="end")
    rng = np.random.default_rng(seed)
    span = (end - start).days
    pop = _population(rng, customers, span, orders=orders, events=events,
                      interactions=interactions)
    width = max(7, len(str(customers)))
    start_us = int(np.datetime64(start, "us").astype(np.int64))
    folder = Path(folder)
    paths = {name: folder / f"{name}.parquet" for name in TABLES}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        writers = {name: pq.ParquetWriter(path, schema(name), use_dictionary=list(_DICTIONARY))
                   for name, path in paths.items()}
        try:
            next_order = 1
            for sl in _chunks(customers):
                writers["customers"].write_table(
                    _customers(rng, pop, sl, width=width, start=start, end=span))
                table = _orders(rng, pop, sl, first_id=next_order, width=width,
                                start_us=start_us)
                next_order += table.num_rows
                writers["orders"].write_table(table)
                writers["events"].write_table(
                    _events(rng, pop, sl, width=width, start_us=start_us))
                writers["interactions"].write_table(
                    _interactions(rng, pop, sl, width=width, start_us=start_us,
                                  customers=customers))
        finally:
            for writer in writers.values():
                writer.close()
    except OSError as exc:
        raise DataFileError(f"cannot write benchmark files into {folder}: {exc}",
                            file=str(folder)) from None
    return paths
