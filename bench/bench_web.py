"""Benchmark of the web pages' server time on a large store (issue 5: fast on 100k customers).

N customers with a current stage and a metrics row are written straight into a fresh SQLite
store (bulk inserts, no engine run: the pages only read the store), one manager signs in, and
each page is requested through the ASGI app in-process, so the time is the server's alone.
Printed: the median of 5 requests per page, after one warm-up request.

    python bench/bench_web.py                      # 100,000 customers
    python bench/bench_web.py --customers 20000
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

PAGES = (
    "/customers",
    "/customers?page=1500",
    "/customers?sort=-name",
    "/customers?stage=declining&sort=-stage_since",
    "/customers?q=C0012",
    "/dashboard",
    "/segments",
)
STAGES = ("prospect", "new", "growing", "mature", "declining", "churned")


def load(store, n: int, owner_id: int) -> None:
    from clm.store.bulk import insert_frame
    from clm.store.tables import Customer, CustomerMetrics, CustomerStage

    rng = np.random.default_rng(7)
    ids = [f"C{i:07d}" for i in range(n)]
    as_of = dt.date(2025, 12, 31)
    since = [as_of - dt.timedelta(days=int(d)) for d in rng.integers(0, 700, n)]
    with store.session() as s:
        insert_frame(s, Customer.__table__, pd.DataFrame({
            "id": ids, "name": [f"Customer {i}" for i in rng.permutation(n)],
            "owner": "Bench Manager", "owner_user_id": owner_id, "erased": False,
            "phone": "13800000000",
        }))
        insert_frame(s, CustomerStage.__table__, pd.DataFrame({
            "customer_id": ids, "stage": rng.choice(STAGES, n), "stage_since": since,
            "grey_zone": rng.random(n) < 0.1, "model_version": "bench", "run_id": "bench",
            "synced_on": as_of,
        }))
        insert_frame(s, CustomerMetrics.__table__, pd.DataFrame({
            "customer_id": ids, "as_of": as_of, "order_count": rng.integers(0, 20, n),
            "total_spend": rng.gamma(2, 500, n), "active_days_30d": rng.integers(0, 30, n),
            "clv": rng.gamma(2, 800, n), "rfm_segment": rng.choice(["loyal", "lost"], n),
            "value_tier": rng.choice(["A", "B", "C"], n),
        }))
        s.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from clm.app import create_app
    from clm.config import get_settings
    from clm.services.actors import Actor
    from clm.services.users import create_user

    home = Path(tempfile.mkdtemp(prefix="clm-bench-web-"))
    settings = get_settings(home=home, environment="test", secret_key="bench")
    app = create_app(settings)
    store = app.state.store
    with store.session() as s:
        user = create_user(s, actor=Actor.system(), login="bench", name="Bench Manager",
                           role="manager", password="bench-password")
    start = time.perf_counter()
    load(store, args.customers, user.id)
    print(f"loaded {args.customers:,} customers in {time.perf_counter() - start:.1f} s")
    client = TestClient(app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"login": "bench", "password": "bench-password",
                                "csrf_token": token})
    for path in PAGES:
        assert client.get(path).status_code == 200, path
        times = []
        for _ in range(5):
            t = time.perf_counter()
            client.get(path)
            times.append(1000 * (time.perf_counter() - t))
        print(f"{path:<48} median {statistics.median(times):7.1f} ms")


if __name__ == "__main__":
    main()
