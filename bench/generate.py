"""Write the benchmark data set: 1M customers, 20M orders, 20M events, 2M interactions.

    python bench/generate.py --out bench/data --scale 1.0

``--scale`` multiplies every count (0.01 is a quick run). The files are Parquet with the
warehouse's column types; ``bench/data`` is git-ignored. The generator itself lives in
``clm.datasets.bench`` so that tests can import it.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from clm.datasets.bench import generate_bench

DEFAULTS = {"customers": 1_000_000, "orders": 20_000_000, "events": 20_000_000,
            "interactions": 2_000_000}


def main(argv: list[str] | None = None) -> int:
    """Generate the benchmark files and print rows, seconds and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/data"))
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    counts = {name: max(1, round(n * args.scale)) for name, n in DEFAULTS.items()}
    began = time.perf_counter()
    paths = generate_bench(args.out, seed=args.seed, **counts)
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    for name, path in paths.items():
        size = path.stat().st_size / 2**20
        print(f"{name:13s} {counts[name]:>12,d} rows  "
              f"{size:8.1f} MiB  {path}")
    print(f"generated in {seconds:.1f} s, peak RSS {peak_mb:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
