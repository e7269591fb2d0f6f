"""Benchmark of the REST API: latency of the tracking record and the task list under load.

N customers are loaded into a PostgreSQL database through the real stage sync
(``clm.services.sync.sync_stages``, which also opens and assigns the playbook's entry tasks), in
batches of ``--batch`` customers, plus one ``customer_metrics`` row each. uvicorn serves
``create_app`` (httptools, uvloop, ``--workers`` processes) in a subprocess on 127.0.0.1, and
``wrk`` (C, epoll; ``bench/api_load.lua``) sends the load: ``--clients`` keep-alive connections,
each user (one sales user per client, a fresh token each) asking for the tracking records of
customers they own, then for their task list. Closed loop first (a connection sends its next
request when the answer arrives); with ``--rate`` also an open loop, where each connection waits
a random pause so that requests arrive at about that rate whatever the server does. Printed and
written into the ``## REST API`` section of ``docs/performance.md``: p50 / p95 / p99 latency,
throughput, errors, and the CPU time per request of the server, the database, wrk and the whole
machine.

    python bench/bench_api.py --customers 1000000 --reuse-db clm_bench_api_1m   # issue 4
    python bench/bench_api.py --customers 20000 --duration 5 --no-doc          # a smoke run

``--reuse-db NAME`` keeps the database after the run and, on the next run, loads only the
batches it does not hold yet (a 1M load takes a while). Targets (issue 4): p95 under 50 ms;
zero errors. Client and server share the machine's 2 cores, so wrk's own CPU time is part of
every number (a few per cent at these rates).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from stage_frames import stage_frames

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LUA = HERE / "api_load.lua"
PG_ADMIN = os.environ.get("CLM_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
STAGES = ["prospect", "new", "growing", "mature", "declining", "churned"]
AS_OF = dt.date(2024, 3, 1)
IDS_PER_USER = 200
ENDPOINTS = {"record": "/api/v1/customers/{id}/record", "tasks": "/api/v1/tasks?limit=50"}


def _admin(sql: str):
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as con:
        cursor = con.execute(sql)
        return cursor.fetchall() if cursor.description else None


def _url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


def _logins(clients: int) -> list[str]:
    return [f"sales{i:02d}" for i in range(clients)]


# -- data -------------------------------------------------------------------------------------


def _frames(start: int, stop: int, owners: list[str], seed: int):
    rng = np.random.default_rng([seed, start])
    n = stop - start
    index = np.arange(start, stop)
    ids = np.char.add("c", index.astype(str))
    stages = rng.choice(STAGES, n)
    since = pd.Timestamp(AS_OF) - pd.to_timedelta(rng.integers(0, 20, n), "D")
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": [f"Customer {i}" for i in index],
            "industry": rng.choice(["retail", "saas", "finance"], n),
            "phone": [f"138{i:08d}" for i in index],
            "email": [f"user{i}@example.com" for i in index],
            "owner": [owners[i % len(owners)] for i in index],
            "acquisition_channel": "web",
            "signup_date": pd.Timestamp("2023-01-01"),
        }
    )
    current, transitions = stage_frames(ids, stages, since, rng)
    return customers, current, transitions


def _metrics(ids: np.ndarray, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng([seed + 1, len(ids)])
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


def load(url: str, *, customers: int, batch: int, clients: int, seed: int) -> dict:
    """Fill the store up to ``customers``: users, then customers through the real sync in
    batches (each with its metrics, one transaction each); batches already there are skipped."""
    from sqlalchemy import select

    from clm.services.actors import Actor
    from clm.services.sync import sync_stages
    from clm.services.users import create_user
    from clm.store.bulk import insert_frame
    from clm.store.engine import Store
    from clm.store.tables import CustomerMetrics, Task, User

    store = Store.open(url)
    logins = _logins(clients)
    with store.session() as s:
        have = set(s.scalars(select(User.login)))
        for login in logins:
            if login not in have:
                create_user(s, actor=Actor.system(), login=login, name=login, role="sales")
    sync_s, loaded = 0.0, 0
    for start in range(0, customers, batch):
        stop = min(start + batch, customers)
        with store.session() as s:
            if s.get(CustomerMetrics, f"c{stop - 1}") is not None:
                continue
        frames = _frames(start, stop, logins, seed)
        began = time.perf_counter()
        with store.session() as s:
            sync_stages(
                s,
                customers=frames[0],
                current=frames[1],
                transitions=frames[2],
                model_version="default@1",
                run_id=f"bench-{start}",
                as_of=AS_OF,
            )
        sync_s += time.perf_counter() - began
        with store.session() as s:
            ids = frames[0]["customer_id"].to_numpy()
            insert_frame(s, CustomerMetrics.__table__, _metrics(ids, seed + start))
            s.commit()
        loaded += stop - start
        print(f"  synced customers {start:,}-{stop - 1:,} ({time.perf_counter() - began:.1f} s)")
    with store.session() as s:
        from sqlalchemy import func

        tasks = s.scalar(select(func.count()).select_from(Task))
    store.dispose()
    if loaded:
        with psycopg_connect(url) as con:
            con.execute("VACUUM ANALYZE")
    return {"sync_s": sync_s, "loaded": loaded, "tasks": tasks}


def psycopg_connect(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def tasks_in_list_order(url: str) -> bool:
    """Whether an index of ``tasks`` hands a user's open tasks out in the list's order (due
    date, then id): migration 0004 adds it; without it p95 of the task list was about 2.5 s."""
    with psycopg_connect(url) as con:
        rows = con.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'tasks'")
        return any("(assignee_id, status, due_on, id)" in row[0] for row in rows)


def prepare(url: str, *, clients: int) -> list[dict]:
    """A fresh token per sales user and the ids of (up to 200) customers each owns."""
    from sqlalchemy import select

    from clm.services.actors import Actor
    from clm.services.users import issue_token
    from clm.store.engine import Store
    from clm.store.tables import Customer, User

    store = Store.open(url, migrate=False)
    users = []
    with store.session() as s:
        for login in _logins(clients):
            user_id = s.scalar(select(User.id).where(User.login == login))
            token = issue_token(s, actor=Actor.system(), user_id=user_id, name="bench").token
            owned = list(
                s.scalars(
                    select(Customer.id)
                    .where(Customer.owner_user_id == user_id)
                    .order_by(Customer.id)
                    .limit(IDS_PER_USER)
                )
            )
            users.append({"login": login, "token": token, "owned": owned})
    store.dispose()
    return users


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_wrk_data(users: list[dict], endpoint: str, path: Path) -> Path:
    """The Lua file ``api_load.lua`` reads: each user's token and request paths."""
    lines = ["return {"]
    for user in users:
        if endpoint == "record":
            paths = [ENDPOINTS["record"].format(id=i) for i in user["owned"]]
        else:
            paths = [ENDPOINTS["tasks"]]
        listed = ", ".join(_lua_string(p) for p in paths)
        lines.append(f"  {{token = {_lua_string(user['token'])}, paths = {{{listed}}}}},")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


# -- server -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(url: str, home: Path, port: int, workers: int) -> subprocess.Popen:
    """``clm serve`` on ``url`` in a subprocess (its own process group, so all workers stop)."""
    env = {**os.environ, "CLM_STORE_URL": url, "CLM_HOME": str(home), "CLM_ENVIRONMENT": "test"}
    command = [str(Path(sys.executable).with_name("clm")), "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--no-access-log"]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, start_new_session=True
    )


def _wait_up(base: str, proc: subprocess.Popen) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit("the server exited")
        try:
            with urllib.request.urlopen(base + "/openapi.json", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / tick


def run_wrk(
    base: str,
    data: Path,
    *,
    clients: int,
    threads: int,
    seconds: float,
    mean_delay_ms: float = 0.0,
) -> dict:
    """One wrk run; its ``done()`` JSON line."""
    command = ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{seconds:g}s"]
    command += ["--timeout", "10s", "-s", str(LUA), base, "--", str(data), str(threads)]
    command += [f"{mean_delay_ms:g}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("{"))
    result = json.loads(line)
    result["rps"] = result["requests"] / result["duration_s"]
    return result


def database_pid(url: str) -> int | None:
    """The PostgreSQL server's main process if it runs on this machine (and we may read its
    data directory): its CPU time is part of what every request costs."""
    import psycopg

    try:
        with psycopg_connect(url) as con:
            directory = con.execute("SHOW data_directory").fetchone()[0]
        return int(Path(directory, "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError, psycopg.Error):
        return None


def busy_cpu_seconds() -> float:
    """CPU time the whole machine spent busy (all processes and the kernel; /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wrk_cpu_seconds() -> float:
    """CPU time of this process's finished children: the wrk runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    base: str,
    proc: subprocess.Popen,
    data: Path,
    args,
    *,
    mean_delay_ms: float = 0.0,
    db_pid: int | None = None,
) -> dict:
    """One measured wrk run after a warm-up, with the CPU time per request of the server, the
    database, wrk, and the whole machine (which includes other work on it)."""
    run_wrk(base, data, clients=args.clients, threads=args.threads, seconds=args.warmup)
    before = (
        cpu_seconds(proc.pid),
        cpu_seconds(db_pid) if db_pid else 0.0,
        wrk_cpu_seconds(),
        busy_cpu_seconds(),
    )
    result = run_wrk(
        base,
        data,
        clients=args.clients,
        threads=args.threads,
        seconds=args.duration,
        mean_delay_ms=mean_delay_ms,
    )
    after = (
        cpu_seconds(proc.pid),
        cpu_seconds(db_pid) if db_pid else 0.0,
        wrk_cpu_seconds(),
        busy_cpu_seconds(),
    )
    n = max(result["requests"], 1)
    per_request = [(b - a) * 1000 / n for a, b in zip(before, after, strict=True)]
    result["server_cpu_ms"], result["db_cpu_ms"], result["wrk_cpu_ms"] = per_request[:3]
    result["machine_cpu_ms"] = per_request[3]
    if not db_pid:
        result["db_cpu_ms"] = None
    return result


# -- report -----------------------------------------------------------------------------------


def _row(r: dict) -> str:
    errors = sum(r["errors"].values())
    db = "-" if r["db_cpu_ms"] is None else f"{r['db_cpu_ms']:.2f}"
    return (
        f"| {r['endpoint']} | {r['mode']} | {r['requests']:,} | {r['p50']:.1f} | "
        f"{r['p95']:.1f} | {r['p99']:.1f} | {r['rps']:.0f} | {errors} | "
        f"{r['server_cpu_ms']:.2f} | {db} | {r['wrk_cpu_ms']:.2f} | {r['machine_cpu_ms']:.2f} |"
    )


def _prose(text: str) -> str:
    """Paragraphs (blank-line separated) filled to the docs' 100 columns."""
    paragraphs = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "\n\n".join(textwrap.fill(p, 100, break_on_hyphens=False) for p in paragraphs)


HEADER = (
    "| endpoint | load | requests | p50 ms | p95 ms | p99 ms | req/s | errors "
    "| CPU ms/req: server | database | wrk | machine |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def write_doc(results: list[dict], args, command: str, loaded: str) -> None:
    doc = ROOT / "docs" / "performance.md"
    text = doc.read_text("utf-8") if doc.exists() else "# Performance\n"
    rows = "\n".join(_row(r) for r in results)
    before = _prose(f"""
{loaded} It serves `create_app` with `clm serve --workers {args.workers} --no-access-log`
(uvicorn, httptools, uvloop) on 127.0.0.1 and loads it with `wrk -t {args.threads} -c
{args.clients}` (`bench/api_load.lua`): {args.clients} keep-alive connections, one sales user
and token each, {args.duration:g} s per row after a {args.warmup:g} s warm-up. Record = `GET
/api/v1/customers/{{id}}/record` of a customer the user owns (masked contacts; 200 customers per
user, interleaved); task list = `GET /api/v1/tasks?limit=50` (the user's open tasks).

*closed* = closed loop: each connection sends its next request as soon as the answer arrives, so
the server runs flat out and latency is mostly queueing. *open N/s* = each connection waits a
random (exponential) pause first, so requests arrive at about N per second whatever the server
does. CPU ms/req = CPU time per request of the uvicorn processes (server), of PostgreSQL (all its
processes: database), of wrk, and of the whole machine (everything busy, the kernel's loopback
traffic and any other work included). Client, server and database share this 2-core machine, and
other work on it (load average {args.load:.1f} when the run began) takes its share: at 2 cores
the throughput cannot exceed 2,000 divided by the machine's CPU ms per request. Targets (issue
4): p95 under 50 ms, zero errors. Measured {dt.date.today():%Y-%m-%d}:
""")
    after = _prose(f"""
Per request the server checks the token against a 10-second in-process cache
(`services.users.TokenCache`); `clm.api.hot` then answers the plain form of these two requests
before FastAPI's routing and dependency resolution, calling the routes' own functions with the
same arguments (anything else goes on to the routes; a test compares both answers byte for
byte). The record or the task list is read with one SQL statement (`services.reads`), prepared
by the driver after its fifth use, on the connection each worker keeps in autocommit mode for
the reads on its event loop (`api.runner`), and written as JSON with orjson without validating
it again; tests pin that JSON to the ORM path and the response schemas. The task list's page
comes straight from the index of migration 0004 (tasks by assignee, status, due date, id). In a
closed loop with {args.clients} clients the mean latency is {args.clients} divided by the
throughput, so a p95 under 50 ms needs well over 1,000 requests per second from these two
cores.
""")
    section = f"""## REST API

`{command}`

{before}

{HEADER}
{rows}

{after}
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


def _database_exists(name: str) -> bool:
    return bool(_admin(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000, help="customers per sync")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--duration", type=float, default=30, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=5, help="seconds before each")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--rate", type=float, default=0, help="also an open-loop run at this many req/s"
    )
    parser.add_argument(
        "--reuse-db", metavar="NAME", help="keep (and next time reuse) this PostgreSQL database"
    )
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/performance.md")
    args = parser.parse_args()
    args.load = os.getloadavg()[0]
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    name = args.reuse_db or f"clm_bench_{uuid.uuid4().hex[:10]}"
    reused = args.reuse_db is not None and _database_exists(name)
    if not reused:
        _admin(f'CREATE DATABASE "{name}"')
    url = _url(name)
    home = Path(f"/tmp/{name}")
    home.mkdir(parents=True, exist_ok=True)
    proc = None
    try:
        loaded = load(
            url, customers=args.customers, batch=args.batch, clients=args.clients, seed=args.seed
        )
        if loaded["loaded"] == args.customers:
            how = (
                f"It loads {args.customers:,} customers into a fresh PostgreSQL database through "
                f"the real stage sync, {args.batch:,} per call ({loaded['sync_s']:.0f} s in "
                f"all), plus one `customer_metrics` row each: {loaded['tasks']:,} tasks."
            )
        else:
            earlier = "an earlier run" if loaded["loaded"] == 0 else "this and earlier runs"
            how = (
                f"The PostgreSQL database `{name}` holds {args.customers:,} customers, loaded "
                f"through the real stage sync {args.batch:,} per call by {earlier} with "
                f"`--reuse-db` (plus one `customer_metrics` row each): {loaded['tasks']:,} tasks."
            )
        ordered = tasks_in_list_order(url)
        if not ordered:
            how += " Tasks have no index in the list's order (due date, then id)."
        print(
            f"{args.customers:,} customers ({loaded['loaded']:,} loaded now), "
            f"{loaded['tasks']:,} tasks; tasks indexed in list order: {ordered}"
        )
        users = prepare(url, clients=args.clients)
        db_pid = database_pid(url)
        port = _free_port()
        proc = serve(url, home, port, args.workers)
        base = f"http://127.0.0.1:{port}"
        _wait_up(base, proc)
        results = []
        modes = [("closed", 0.0)]
        if args.rate:
            modes.append((f"open {args.rate:g}/s", args.clients / args.rate * 1000))
        for endpoint in ENDPOINTS:
            data = write_wrk_data(users, endpoint, home / f"wrk_{endpoint}.lua")
            for mode, delay in modes:
                result = measure(base, proc, data, args, mean_delay_ms=delay, db_pid=db_pid)
                result |= {"endpoint": endpoint, "mode": mode}
                results.append(result)
                print(
                    f"{endpoint:7s} {mode:12s} n={result['requests']} "
                    f"p50={result['p50']:.1f} ms p95={result['p95']:.1f} ms "
                    f"p99={result['p99']:.1f} ms {result['rps']:.0f} req/s "
                    f"errors={result['errors']} CPU ms/req: server "
                    f"{result['server_cpu_ms']:.2f} database {result['db_cpu_ms'] or 0:.2f} "
                    f"wrk {result['wrk_cpu_ms']:.2f} machine {result['machine_cpu_ms']:.2f}"
                )
        (home / "results.json").write_text(json.dumps(results, indent=1), "utf-8")
        if not args.no_doc:
            command = "flock /tmp/bench.lock .venv/bin/python bench/bench_api.py " + " ".join(
                sys.argv[1:]
            )
            write_doc(results, args, command, how)
    finally:
        if proc is not None:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
        if args.reuse_db is None:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
