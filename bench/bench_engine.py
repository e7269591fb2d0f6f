"""Benchmark of the lifecycle engine: import, features + stages, and a 12-month backfill.

Each timing is printed as a ratio against hand-written DuckDB SQL of the same features, run in
the same process on the same data, so the numbers say how much the Ibis layer costs rather
than how fast this machine happens to be today. Peak RSS is the process maximum.

    python bench/bench_engine.py --scale 1.0      # 1M customers, 20M orders, 20M events
    python bench/bench_engine.py --scale 0.01     # a quick smoke run

Targets (issue 2): features + stages within 1.5x of the reference and under 10 s; the
12-date backfill under 60 s; peak RSS under 4 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from clm.analytics.features import compute_features
from clm.analytics.rules import assign_stages, load_model
from clm.config import ProjectConfig
from clm.ingest import import_folder
from clm.services.history import StageHistory, step_dates
from clm.warehouse import Warehouse

from generate import generate_bench
from reference_sql import reference_features_sql

AS_OF = dt.date(2025, 12, 31)


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the warehouse file afterwards")
    args = parser.parse_args()

    data = args.data / f"scale-{args.scale}"
    if not (data / "orders.parquet").exists():
        t, _ = _timed(
            lambda: generate_bench(
                data,
                customers=int(1_000_000 * args.scale),
                orders=int(20_000_000 * args.scale),
                events=int(20_000_000 * args.scale),
                interactions=int(2_000_000 * args.scale),
            )
        )
        print(f"generated data in {t:.1f} s")

    args.out.mkdir(parents=True, exist_ok=True)
    db = args.out / f"bench-{args.scale}.duckdb"
    for p in (db, Path(f"{db}.wal")):
        if p.exists():
            p.unlink()
    wh = Warehouse.connect(f"duckdb://{db}")
    t_import, report = _timed(lambda: import_folder(data, warehouse=wh, config=ProjectConfig()))
    rows = sum(f.read for f in report.files)

    con = wh.con.con  # the raw duckdb connection: the reference runs on the same engine
    sql = reference_features_sql(AS_OF)

    def reference():
        return con.execute(f"CREATE OR REPLACE TEMP TABLE _ref AS {sql}").fetchall()

    model = load_model("default")

    def clm_stages():
        tables = wh.input_tables()
        expr = assign_stages(compute_features(tables, as_of=AS_OF), model=model, as_of=AS_OF)
        return wh.con.create_table("_clm_stages", expr, temp=True, overwrite=True)

    ref_times, clm_times = [], []
    for _ in range(args.repeat):  # interleaved, so drift on a shared box hits both alike
        ref_times.append(_timed(reference)[0])
        clm_times.append(_timed(clm_stages)[0])
    t_ref, t_clm = min(ref_times), min(clm_times)
    # the one-date results held 1M rows each in DuckDB's memory: not the backfill's to carry
    con.execute("DROP TABLE IF EXISTS _ref")
    wh.con.drop_table("_clm_stages", force=True)

    dates = step_dates(dt.date(2025, 1, 1), AS_OF, "month")[-12:]
    history = StageHistory(wh, model=model)
    t_backfill, _ = _timed(lambda: history.backfill(dates))

    result = {
        "scale": args.scale,
        "input_rows": rows,
        "import_s": round(t_import, 2),
        "import_ratio_vs_reference": round(t_import / t_ref, 2),
        "reference_features_sql_s": round(t_ref, 3),
        "clm_features_and_stages_s": round(t_clm, 3),
        "features_and_stages_ratio": round(t_clm / t_ref, 3),
        "backfill_12_months_s": round(t_backfill, 2),
        "backfill_ratio_vs_reference": round(t_backfill / t_ref, 2),
        "peak_rss_gb": round(_peak_rss_gb(), 2),
    }
    for k, v in result.items():
        print(f"{k:34s} {v}")
    (args.out / f"engine-{args.scale}.json").write_text(json.dumps(result, indent=2) + "\n")
    wh.con.disconnect()
    if not args.keep:
        db.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
