"""Build canonical input tables quickly, by hand or at random, for tests and benchmarks.

Hand-built rows go through small constructors (``customer``, ``order``, ``event``,
``interaction``) that fill every canonical column, so a test names only what it is about;
``load`` turns them into Arrow tables with the warehouse's canonical schemas and inserts them.
``random_tables`` makes a seeded, vectorised data set of any size (the benchmark uses 1M
customers / 20M orders) with the same schemas.

Import it from a test module in this folder as ``from factories import ...`` (pytest puts the
test file's folder on ``sys.path``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from clm.analytics.feature_catalog import FEATURES
from clm.domain.contract import EVENT_TYPES, INTERACTION_TYPES, TABLES
from clm.warehouse import Warehouse, canonical_schema

CORE_FEATURES = ("reports", "dashboards", "export", "alerts", "api", "sharing", "billing", "search")
_counter = itertools.count(1)


def schema(name: str) -> pa.Schema:
    """The Arrow schema of canonical table ``name``."""
    return canonical_schema(TABLES[name]).to_pyarrow()


def _ts(value: dt.datetime | dt.date | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(12, 0))


def _date(value: dt.date | str | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def customer(customer_id: str, **fields: Any) -> dict[str, Any]:
    """A customers row; dates may be ISO strings."""
    row: dict[str, Any] = {"customer_id": customer_id, "name": f"name {customer_id}"}
    for key in ("signup_date", "unsubscribed_on", "account_closed_on"):
        if key in fields:
            fields[key] = _date(fields[key])
    row.update(fields)
    return row


def order(customer_id: str, at: dt.datetime | dt.date | str, amount: float = 100.0,
          status: str = "paid", *, order_id: str | None = None) -> dict[str, Any]:
    """An orders row; a date alone means noon of that day."""
    return {"order_id": order_id or f"O{next(_counter):09d}", "customer_id": customer_id,
            "ordered_at": _ts(at), "amount": float(amount), "status": status}


def event(customer_id: str, at: dt.datetime | dt.date | str, event_type: str,
          feature: str | None = None) -> dict[str, Any]:
    """An events row (``feature`` for ``feature_used``)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    return {"customer_id": customer_id, "occurred_at": _ts(at), "event_type": event_type,
            "feature": feature}


def interaction(customer_id: str, at: dt.datetime | dt.date | str, interaction_type: str,
                score: float | None = None, referred: str | None = None) -> dict[str, Any]:
    """An interactions row (``score`` for satisfaction/nps, ``referred`` for referrals)."""
    if interaction_type not in INTERACTION_TYPES:
        raise ValueError(f"unknown interaction type {interaction_type!r}")
    return {"customer_id": customer_id, "occurred_at": _ts(at),
            "interaction_type": interaction_type, "score": score,
            "referred_customer_id": referred}


def arrow_table(name: str, rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows as an Arrow table of canonical table ``name``; trace columns filled with dummies."""
    sch = schema(name)
    rows = list(rows)
    cols: dict[str, list[Any]] = {f.name: [] for f in sch}
    for i, row in enumerate(rows, start=1):
        for f in sch:
            if f.name == "row_key":
                cols[f.name].append(f"{name}-{i}")
            elif f.name == "source_file":
                cols[f.name].append("factory")
            elif f.name == "source_line":
                cols[f.name].append(i)
            else:
                cols[f.name].append(row.get(f.name))
    return pa.table(cols, schema=sch)


def load(warehouse: Warehouse, *, customers: Iterable[Mapping[str, Any]] = (),
         orders: Iterable[Mapping[str, Any]] = (), events: Iterable[Mapping[str, Any]] = (),
         interactions: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Insert hand-built rows into ``warehouse`` and return its canonical Ibis tables.

    Customers referenced by other rows but not listed are added with only an id.
    """
    customers, orders = list(customers), list(orders)
    events, interactions = list(events), list(interactions)
    known = {c["customer_id"] for c in customers}
    for row in itertools.chain(orders, events, interactions):
        if row["customer_id"] not in known:
            known.add(row["customer_id"])
            customers.append(customer(row["customer_id"]))
    data = {"customers": customers, "orders": orders, "events": events,
            "interactions": interactions}
    return load_arrow(warehouse, {k: arrow_table(k, v) for k, v in data.items()})


def load_arrow(warehouse: Warehouse, tables: Mapping[str, pa.Table]) -> dict[str, Any]:
    """Insert Arrow tables (canonical schemas) and return the warehouse's Ibis tables."""
    warehouse.ensure_input_tables()
    for name, table in tables.items():
        if table.num_rows:
            warehouse.insert(name, table)
    return warehouse.input_tables()


# -- random data ------------------------------------------------------------------------------

def _prefixed(prefix: str, ints: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pc.cast(pa.array(ints), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix), text, "")


def _timestamps(rng: np.random.Generator, n: int, start: dt.date, end: dt.date) -> pa.Array:
    lo = np.datetime64(start, "s").astype(np.int64)
    hi = np.datetime64(end, "s").astype(np.int64) + 86_400
    secs = rng.integers(lo, hi, size=n)
    return pa.array(secs.astype("datetime64[s]").astype("datetime64[us]"), pa.timestamp("us"))


def _trace(name: str, n: int) -> dict[str, pa.Array]:
    lines = np.arange(1, n + 1, dtype=np.int64)
    return {"row_key": _prefixed(f"{name}-", lines, 1),
            "source_file": pa.array(np.full(n, "random", dtype=object), pa.string()),
            "source_line": pa.array(lines)}


def random_tables(n_customers: int, *, seed: int, orders_per_customer: float = 20.0,
                  events_per_customer: float = 20.0, interactions_per_customer: float = 2.0,
                  start: dt.date = dt.date(2023, 1, 1), end: dt.date = dt.date(2025, 12, 31),
                  trace: bool = True) -> dict[str, pa.Table]:
    """A seeded random data set with canonical schemas, vectorised so it scales to millions.

    Dates are uniform on ``[start, end]`` at second resolution, so an as-of date inside the
    range leaves rows after it (for point-in-time tests). About a tenth of the customers have
    no rows at all; amounts are whole cents. ``trace=False`` leaves the trace columns out (the
    benchmark does not read them).
    """
    rng = np.random.default_rng(seed)
    ids = _prefixed("C", np.arange(n_customers), 7)
    active = max(1, int(n_customers * 0.9))

    def owners(n: int) -> pa.Array:
        return ids.take(pa.array(rng.integers(0, active, size=n)))

    def dates(p: float) -> pa.Array:
        days = rng.integers(0, (end - start).days + 1, size=n_customers)
        values = np.datetime64(start, "D") + days
        return pa.array(values, pa.date32(), mask=rng.random(n_customers) >= p)

    customers = {"customer_id": ids,
                 "name": pc.binary_join_element_wise(pa.scalar("name "), ids, ""),
                 "industry": pa.array(rng.choice(["retail", "saas", "finance"], n_customers)),
                 "phone": pa.nulls(n_customers, pa.string()),
                 "email": pa.nulls(n_customers, pa.string()),
                 "owner": pa.array(rng.choice(["ann", "bo"], n_customers)),
                 "acquisition_channel": pa.array(rng.choice(["web", "ads"], n_customers)),
                 "signup_date": dates(0.8), "unsubscribed_on": dates(0.05),
                 "account_closed_on": dates(0.03)}

    n = int(n_customers * orders_per_customer)
    status = rng.choice(["paid", "refunded", "cancelled"], size=n, p=[0.9, 0.06, 0.04])
    orders = {"order_id": _prefixed("O", np.arange(n), 9), "customer_id": owners(n),
              "ordered_at": _timestamps(rng, n, start, end),
              "amount": pa.array(rng.integers(100, 50_000, size=n) / 100.0),
              "status": pa.array(status)}

    n = int(n_customers * events_per_customer)
    types = rng.choice(list(EVENT_TYPES), size=n, p=[0.3, 0.02, 0.03, 0.01, 0.24, 0.3, 0.1])
    feature = rng.choice(list(CORE_FEATURES), size=n).astype(object)
    feature[types != "feature_used"] = None
    events = {"customer_id": owners(n), "occurred_at": _timestamps(rng, n, start, end),
              "event_type": pa.array(types), "feature": pa.array(feature, pa.string())}

    n = int(n_customers * interactions_per_customer)
    itypes = rng.choice(list(INTERACTION_TYPES), size=n, p=[0.5, 0.1, 0.2, 0.1, 0.1])
    score = rng.integers(0, 11, size=n).astype(float)
    referred = ids.take(pa.array(rng.integers(0, n_customers, size=n)))
    interactions = {"customer_id": owners(n), "occurred_at": _timestamps(rng, n, start, end),
                    "interaction_type": pa.array(itypes),
                    "score": pa.array(score, mask=~np.isin(itypes, ["satisfaction", "nps"])),
                    "referred_customer_id": pc.if_else(pa.array(itypes == "referral"),
                                                       referred, pa.scalar(None, pa.string()))}

    out = {}
    for name, cols in (("customers", customers), ("orders", orders), ("events", events),
                       ("interactions", interactions)):
        sch = schema(name)
        if trace:
            cols = {**cols, **_trace(name, len(next(iter(cols.values()))))}
        else:
            sch = pa.schema([f for f in sch if f.name in cols])
        out[name] = pa.table({f.name: cols[f.name] for f in sch}, schema=sch)
    return out


# -- comparing feature tables ------------------------------------------------------------------

def assert_same_features(ours: pa.Table, theirs: pa.Table, *, atol: float = 1e-9) -> None:
    """Two feature tables agree: same customers, same nulls, equal values (floats within
    ``atol``), column by column so a failure names the feature."""
    ours, theirs = ours.sort_by("customer_id"), theirs.sort_by("customer_id")
    assert ours.column("customer_id").equals(theirs.column("customer_id"))
    for f in FEATURES:
        a, b = ours.column(f.name).to_pylist(), theirs.column(f.name).to_pylist()
        assert [x is None for x in a] == [y is None for y in b], f"nulls differ in {f.name}"
        if f.dtype == "float":
            x = np.array([v for v in a if v is not None], dtype=float)
            y = np.array([v for v in b if v is not None], dtype=float)
            assert np.allclose(x, y, rtol=0, atol=atol), f"values differ in {f.name}"
        else:
            assert a == b, f"values differ in {f.name}"
