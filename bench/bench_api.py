"""Benchmark of the REST API: latency of the tracking record and the task list under load.

N customers are loaded into a fresh PostgreSQL database through the real stage sync
(``clm.services.sync.sync_stages``, which also opens and assigns the playbook's entry tasks),
plus one ``customer_metrics`` row each. uvicorn serves ``create_app`` in a subprocess on
127.0.0.1; 50 concurrent clients (httpx, asyncio; each signed in as its own sales user)
request their customers' tracking records and their task lists, a bounded number of requests
per endpoint, after a warm-up. Printed: p50 / p95 / p99 latency, throughput and errors; the
results are written into the ``## REST API`` section of ``docs/performance.md``.

    python bench/bench_api.py                         # 1M customers (issue 4)
    python bench/bench_api.py --customers 100000      # what fits in a few minutes here

Targets (issue 4): p95 under 50 ms; zero errors. Client and server share the machine's cores,
so the client's own CPU time is part of every number.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PG_ADMIN = os.environ.get("CLM_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
STAGES = ["prospect", "new", "growing", "mature", "declining", "churned"]
AS_OF = dt.date(2024, 3, 1)


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as con:
        con.execute(sql)


def _url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


def _frames(n: int, owners: list[str], seed: int):
    rng = np.random.default_rng(seed)
    ids = np.char.add("c", np.arange(n).astype(str).astype(object).astype(str))
    stages = rng.choice(STAGES, n)
    since = pd.Timestamp(AS_OF) - pd.to_timedelta(rng.integers(0, 20, n), "D")
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": [f"Customer {i}" for i in range(n)],
            "industry": rng.choice(["retail", "saas", "finance"], n),
            "phone": [f"138{i:08d}" for i in range(n)],
            "email": [f"user{i}@example.com" for i in range(n)],
            "owner": [owners[i % len(owners)] for i in range(n)],
            "acquisition_channel": "web",
            "signup_date": pd.Timestamp("2023-01-01"),
        }
    )
    current = pd.DataFrame(
        {
            "customer_id": ids,
            "stage": stages,
            "stage_since": since.date,
            "previous_stage": None,
            "grey_zone": rng.random(n) < 0.1,
            "reasons": [[f"rule {s}"] for s in stages],
        }
    )
    transitions = pd.DataFrame(
        {
            "customer_id": ids,
            "from_stage": None,
            "to_stage": stages,
            "changed_on": since.date,
            "reasons": [[f"rule {s}"] for s in stages],
        }
    )
    return customers, current, transitions


def _metrics(ids: np.ndarray, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1)
    n = len(ids)
    orders = rng.integers(0, 20, n)
    spend = np.round(orders * rng.uniform(20, 200, n), 2)
    usage = json.dumps({"reports": 4, "export": 1})
    features = json.dumps({"referrals_90d": 1, "satisfaction_latest": 8.5})
    return pd.DataFrame(
        {
            "customer_id": ids,
            "as_of": AS_OF,
            "order_count": orders,
            "total_spend": spend,
            "avg_order_value": np.where(orders > 0, spend / np.maximum(orders, 1), np.nan),
            "first_order_date": dt.date(2023, 2, 1),
            "last_order_date": dt.date(2024, 2, 20),
            "days_since_last_order": 10,
            "active_days_30d": rng.integers(0, 30, n),
            "feature_usage": usage,
            "features": features,
            "r_score": rng.integers(1, 6, n),
            "f_score": rng.integers(1, 6, n),
            "m_score": rng.integers(1, 6, n),
            "rfm_segment": "loyal",
            "value_tier": "B",
            "clv": np.round(spend * 1.5, 2),
            "p_alive": 0.8,
            "expected_purchases": 1.2,
        }
    )


def load(url: str, *, customers: int, clients: int, seed: int) -> dict:
    """Fill the store: users, customers through the real sync, metrics; return tokens and ids."""
    from sqlalchemy import select

    from clm.services.actors import Actor
    from clm.services.sync import sync_stages
    from clm.services.users import create_user, issue_token
    from clm.store.bulk import insert_frame
    from clm.store.engine import Store
    from clm.store.tables import Customer, CustomerMetrics

    store = Store.open(url)
    logins = [f"sales{i:02d}" for i in range(clients)]
    tokens = {}
    with store.session() as s:
        for login in logins:
            user = create_user(s, actor=Actor.system(), login=login, name=login, role="sales")
            tokens[login] = issue_token(s, actor=Actor.system(), user_id=user.id, name="b").token
    frames = _frames(customers, logins, seed)
    start = time.perf_counter()
    with store.session() as s:
        report = sync_stages(
            s,
            customers=frames[0],
            current=frames[1],
            transitions=frames[2],
            model_version="default@1",
            run_id="bench",
            as_of=AS_OF,
        )
    sync_s = time.perf_counter() - start
    with store.session() as s:
        insert_frame(
            s, CustomerMetrics.__table__, _metrics(frames[0]["customer_id"].to_numpy(), seed)
        )
        s.commit()
        owned = {}
        for login in logins:
            owned[login] = list(
                s.scalars(
                    select(Customer.id)
                    .where(Customer.owner == login)
                    .order_by(Customer.id)
                    .limit(200)
                )
            )
    store.dispose()
    return {"tokens": tokens, "owned": owned, "sync_s": sync_s, "tasks": report.tasks_opened}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_app():
    """The uvicorn factory of the server subprocess (settings from CLM_* variables)."""
    from clm.app import create_app
    from clm.config import get_settings

    return create_app(get_settings())


def serve(url: str, home: Path, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "CLM_STORE_URL": url, "CLM_HOME": str(home), "PYTHONPATH": str(HERE)}
    command = [sys.executable, "-m", "uvicorn", "--factory", "bench_api:make_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning"]
    return subprocess.Popen(command, cwd=ROOT, env=env)


async def _wait_up(base: str, proc: subprocess.Popen) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(600):
            if proc.poll() is not None:
                raise SystemExit("the server exited")
            try:
                await client.get(base + "/openapi.json")
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    raise SystemExit("the server did not start")


async def hammer(base: str, data: dict, *, endpoint: str, requests: int, clients: int, seed: int):
    """``requests`` requests to ``endpoint`` from ``clients`` concurrent clients."""
    import httpx

    rng = random.Random(seed)
    logins = list(data["tokens"])
    plan = []
    for i in range(requests):
        login = logins[i % len(logins)]
        if endpoint == "record":
            path = f"/api/v1/customers/{rng.choice(data['owned'][login])}/record"
        else:
            path = "/api/v1/tasks?limit=50"
        plan.append((login, path))
    latencies: list[float] = []
    errors: dict[str, int] = {}
    cursor = iter(plan)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def worker(client: httpx.AsyncClient) -> None:
        for login, path in cursor:
            headers = {"Authorization": f"Bearer {data['tokens'][login]}"}
            start = time.perf_counter()
            try:
                response = await client.get(base + path, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            latencies.append(time.perf_counter() - start)
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1

    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        wall = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {
        "endpoint": endpoint,
        "requests": len(ms),
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
        "rps": len(ms) / wall,
        "errors": errors,
    }


def write_doc(results: list[dict], args, loaded: dict) -> None:
    doc = ROOT / "docs" / "performance.md"
    text = doc.read_text("utf-8") if doc.exists() else "# Performance\n"
    rows = "\n".join(
        f"| {r['endpoint']} | {r['requests']:,} | {r['p50']:.1f} | {r['p95']:.1f} | "
        f"{r['p99']:.1f} | {r['rps']:.0f} | {sum(r['errors'].values())} |"
        for r in results
    )
    section = f"""## REST API

`.venv/bin/python bench/bench_api.py --customers {args.customers}` loads {args.customers:,}
customers into a fresh PostgreSQL database through the real stage sync ({loaded["sync_s"]:.1f} s,
{loaded["tasks"]:,} entry tasks opened and assigned) plus one `customer_metrics` row each, serves
`create_app` with uvicorn ({args.workers} worker processes) on 127.0.0.1 in a subprocess, and sends
{args.requests:,} requests per endpoint from {args.clients} concurrent clients (httpx, one
sales user and token each, keep-alive) after {args.warmup} warm-up requests. Record = `GET
/api/v1/customers/{{id}}/record` of a customer the user owns; task list = `GET /api/v1/tasks`.
Client and server share this 2-core machine. Measured {dt.date.today():%Y-%m-%d}:

| endpoint | requests | p50 ms | p95 ms | p99 ms | req/s | errors |
|---|---|---|---|---|---|---|
{rows}
"""
    marker = "\n## REST API\n"
    if marker in "\n" + text:
        head, _, rest = ("\n" + text).partition(marker)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1 :] if nxt >= 0 else ""
        text = head.lstrip("\n") + "\n" + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.write_text(text, "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=5_000, help="per endpoint")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/performance.md")
    args = parser.parse_args()

    name = f"clm_bench_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    url = _url(name)
    proc = None
    try:
        loaded = load(url, customers=args.customers, clients=args.clients, seed=args.seed)
        print(f"loaded {args.customers:,} customers; sync {loaded['sync_s']:.1f} s")
        port = _free_port()
        home = Path(f"/tmp/{name}")
        proc = serve(url, home, port, args.workers)
        base = f"http://127.0.0.1:{port}"
        asyncio.run(_wait_up(base, proc))
        results = []
        for endpoint in ("record", "tasks"):
            asyncio.run(
                hammer(
                    base,
                    loaded,
                    endpoint=endpoint,
                    requests=args.warmup,
                    clients=args.clients,
                    seed=args.seed,
                )
            )
            result = asyncio.run(
                hammer(
                    base,
                    loaded,
                    endpoint=endpoint,
                    requests=args.requests,
                    clients=args.clients,
                    seed=args.seed + 1,
                )
            )
            results.append(result)
            print(
                f"{endpoint:7s} n={result['requests']} p50={result['p50']:.1f} ms "
                f"p95={result['p95']:.1f} ms p99={result['p99']:.1f} ms "
                f"{result['rps']:.0f} req/s errors={result['errors']}"
            )
        if not args.no_doc:
            write_doc(results, args, loaded)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
