"""Benchmark of the stage sync: an engine run's results into PostgreSQL and SQLite (issue 4).

Three phases per backend, each through the real ``clm.services.sync.sync_stages`` into a fresh
store: the first load (every customer, current stage, transition, entry task and audit row is
new), a re-sync a week later with 10% of the customers changed (each moves to another stage
with a new transition, half of them also with a new phone number: tasks are superseded and
opened, every change audited), and an identical re-sync (writes nothing). Printed per phase:
seconds, what was written, and the seconds of each step inside the sync
(``SyncReport.seconds``).

The reference is a plain ``COPY`` of the same number of customer rows (CSV text built
beforehand; on SQLite one ``executemany``) into a copy of the ``customers`` table with its
primary key, in the same process: the cheapest way to put N rows into that database, so the
ratio says what the whole sync costs in units of "writing the customers once". The first load
writes about five rows per customer (customer, stage, transition, ~1.1 tasks, audit), so a
ratio near 5-8 means the sync costs little beyond the rows it must write.

    python bench/bench_sync.py                                  # 1M PostgreSQL, 100k SQLite
    python bench/bench_sync.py --customers 200000 --sqlite-customers 0

Target (issue 4): sync under 60 s at 1M customers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from stage_frames import stage_frames

PG_ADMIN = os.environ.get("CLM_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
DB_NAME = os.environ.get("CLM_BENCH_SYNC_DB", "clm_bench_sync")
STAGES = np.array(["prospect", "new", "growing", "mature", "declining", "churned"], dtype=object)
AS_OF = dt.date(2024, 3, 1)
ROLES = {"sales": 20, "success": 10, "marketing": 5, "support": 5, "product": 3, "manager": 2}


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as con:
        con.execute(sql)


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


def frames(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``n`` customers, 70% owned by a sales user; stage_since spread over the last 400 days
    (so most customers are settled and get only their stage's recurring follow-up)."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i:07d}" for i in range(n)], dtype=object)
    stages = rng.choice(STAGES, n)
    since = pd.Timestamp(AS_OF) - pd.to_timedelta(rng.integers(0, 400, n), "D")
    sales = np.array([f"sales{i:02d}" for i in range(ROLES["sales"])], dtype=object)
    owners = np.where(rng.random(n) < 0.7, sales[np.arange(n) % len(sales)], None)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": [f"客户 {i}" for i in range(n)],
            "industry": rng.choice(np.array(["retail", "saas", "finance"], dtype=object), n),
            "phone": [f"138{i:08d}" for i in range(n)],
            "email": [f"user{i}@example.com" for i in range(n)],
            "owner": owners,
            "acquisition_channel": "web",
            "signup_date": (since - pd.Timedelta(days=30)).date,
        }
    )
    current, transitions = stage_frames(ids, stages, since, rng)
    return customers, current, transitions


def changed(base, share: float, as_of: dt.date, seed: int):
    """``share`` of the customers move to another stage on ``as_of``; half of them also get a
    new phone number."""
    customers, current, transitions = (f.copy() for f in base)
    rng = np.random.default_rng(seed)
    n = len(current)
    rows = np.sort(rng.choice(n, int(n * share), replace=False))
    old = current["stage"].to_numpy()[rows]
    shift = rng.integers(1, len(STAGES), len(rows))
    index = {s: i for i, s in enumerate(STAGES)}
    new = STAGES[(np.array([index[s] for s in old]) + shift) % len(STAGES)]
    current.loc[rows, "stage"] = new
    current.loc[rows, "previous_stage"] = old
    current.loc[rows, "stage_since"] = as_of
    current.loc[rows, "reasons"] = pd.Series([[f"moved to {s}"] for s in new], index=rows)
    phones = rows[::2]
    customers.loc[phones, "phone"] = [f"139{i:08d}" for i in phones]
    moves = pd.DataFrame(
        {
            "customer_id": current["customer_id"].to_numpy()[rows],
            "from_stage": old,
            "to_stage": new,
            "changed_on": as_of,
            "reasons": [[f"moved to {s}"] for s in new],
        }
    )
    return customers, current, pd.concat([transitions, moves], ignore_index=True)


def _users(store) -> None:
    from clm.services.actors import Actor
    from clm.services.users import create_user

    with store.session() as s:
        for role, count in ROLES.items():
            for i in range(count):
                login = f"{role}{i:02d}"
                create_user(s, actor=Actor.system(), login=login, name=login, role=role)


def _backend_cpu(pid: int | None) -> float:
    """CPU seconds of a PostgreSQL backend on this machine (0 when it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sync(store, data, *, run_id: str, as_of: dt.date):
    """Seconds, report, and CPU seconds of this process and of the PostgreSQL backend."""
    from clm.services.sync import sync_stages

    customers, current, transitions = data
    with store.session() as s:
        pid = None
        if store.dialect == "postgresql":
            pid = s.connection().connection.driver_connection.info.backend_pid
        backend, cpu, start = _backend_cpu(pid), time.process_time(), time.perf_counter()
        report = sync_stages(
            s,
            customers=customers,
            current=current,
            transitions=transitions,
            model_version="default@1",
            run_id=run_id,
            as_of=as_of,
        )
        seconds = time.perf_counter() - start
        cpu = {"python": time.process_time() - cpu, "postgres": _backend_cpu(pid) - backend}
    return seconds, report, cpu


def _reference(store, customers: pd.DataFrame) -> float:
    """Seconds to write the customers once, the plainest way the backend offers.

    PostgreSQL: ``COPY`` of CSV text built beforehand into a copy of ``customers`` with its
    primary key and index (no foreign key); SQLite: one ``executemany`` of tuples built
    beforehand into a table with the same primary key. Only the write is timed.
    """
    frame = pd.DataFrame(
        {
            "id": customers["customer_id"],
            "name": customers["name"],
            "industry": customers["industry"],
            "phone": customers["phone"],
            "email": customers["email"],
            "owner": customers["owner"],
            "acquisition_channel": customers["acquisition_channel"],
            "signup_date": customers["signup_date"].map(dt.date.isoformat),
            "erased": False,
        }
    )
    names = ", ".join(frame.columns)
    with store.engine.connect() as connection:
        raw = connection.connection.driver_connection
        if store.dialect == "postgresql":
            text = frame.to_csv(index=False, header=False)
            raw.execute("CREATE TABLE ref_customers (LIKE customers INCLUDING ALL)")
            raw.commit()
            start = time.perf_counter()
            with raw.cursor() as cursor:
                with cursor.copy(f"COPY ref_customers ({names}) FROM STDIN WITH (FORMAT csv)") as c:
                    c.write(text)
            raw.commit()
            seconds = time.perf_counter() - start
            raw.execute("DROP TABLE ref_customers")
            raw.commit()
            return seconds
        frame["erased"] = 0
        rows = list(frame.itertuples(index=False, name=None))
        columns = ", ".join(f"{c} TEXT PRIMARY KEY" if c == "id" else c for c in frame.columns)
        raw.execute(f"CREATE TABLE ref_customers ({columns})")
        start = time.perf_counter()
        raw.execute("BEGIN")
        raw.executemany(
            f"INSERT INTO ref_customers ({names}) VALUES ({', '.join('?' * len(frame.columns))})",
            rows,
        )
        raw.execute("COMMIT")
        seconds = time.perf_counter() - start
        raw.execute("DROP TABLE ref_customers")
        return seconds


def run(url: str, n: int, *, seed: int, label: str) -> list[dict]:
    from clm.store.engine import Store

    store = Store.open(url)
    try:
        _users(store)
        base = frames(n, seed)
        later = AS_OF + dt.timedelta(days=7)
        moved = changed(base, 0.1, later, seed + 1)
        phases = [
            ("first load", base, "run-1", AS_OF),
            ("10% changed", moved, "run-2", later),
            ("identical re-sync", moved, "run-3", later),
        ]
        results = []
        for name, data, run_id, as_of in phases:
            seconds, report, cpu = _sync(store, data, run_id=run_id, as_of=as_of)
            results.append({"phase": name, "seconds": seconds, "report": report, "cpu": cpu})
        reference = _reference(store, base[0])
        how = "COPY" if store.dialect == "postgresql" else "executemany"
        print(
            f"\n{label}: {n:,} customers; reference: {how} of {n:,} customer rows {reference:.2f} s"
        )
        for r in results:
            rep = r["report"]
            counts = {k: v for k, v in rep.counts().items() if v}
            steps = "  ".join(f"{k} {v:.1f}" for k, v in rep.seconds.items())
            ratio = r["seconds"] / reference
            print(f"  {r['phase']:18s} {r['seconds']:7.1f} s  {ratio:6.1f}x  {counts}")
            cpu = "  ".join(f"{k} {v:.1f}" for k, v in r["cpu"].items() if v)
            print(f"  {'':18s} CPU seconds: {cpu}; load average {os.getloadavg()[0]:.1f}")
            print(f"  {'':18s} steps: {steps}")
            r["reference"] = reference
        return results
    finally:
        store.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--customers", type=int, default=1_000_000, help="into PostgreSQL (0: skip)"
    )
    parser.add_argument("--sqlite-customers", type=int, default=100_000, help="0: skip")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.customers:
        _admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{DB_NAME}"')
        try:
            run(_pg_url(DB_NAME), args.customers, seed=args.seed, label="PostgreSQL")
        finally:
            _admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    if args.sqlite_customers:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'clm.sqlite'}"
            run(url, args.sqlite_customers, seed=args.seed, label="SQLite")
    return 0


if __name__ == "__main__":
    sys.exit(main())
