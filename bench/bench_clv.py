"""Benchmark: clm's BG/NBD fit against lifetimes (and pymc-marketing, if installed).

Run with one BLAS thread, as the numbers in docs/performance.md were::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_clv.py [--sizes 100000 1000000]

Each fit runs in a forked child so its peak RSS can be read on its own; times are reported as
ratios to clm's, log-likelihoods side by side (all evaluated with clm's likelihood at each
library's parameters, so they are comparable). Predictions (expected purchases over 52 weeks
and P(alive)) are timed for clm on the same customers. lifetimes 0.11 and pandas 3: its fit
takes numpy arrays fine; only ``lifetimes.datasets`` needs ``setuptools<81``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from clm.analytics.clv import BetaGeoModel
from clm.analytics.clv.beta_geo import _prepare
from clm.analytics.clv.simulate import simulate_beta_geo

TRUE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _fit_clm(x, tx, T):
    m = BetaGeoModel().fit(x, tx, T)
    return m.params_


def _fit_lifetimes(x, tx, T):
    from lifetimes import BetaGeoFitter

    warnings.simplefilter("ignore")
    f = BetaGeoFitter().fit(x, tx, T)
    return {k: float(f.params_[k]) for k in ("r", "alpha", "a", "b")}


def _fit_pymc(x, tx, T):
    import pandas as pd
    from pymc_marketing.clv import BetaGeoModel as PymcBG

    data = pd.DataFrame({"customer_id": np.arange(len(x)), "frequency": x, "recency": tx,
                         "T": T})
    model = PymcBG(data=data)
    model.fit(method="map")
    post = model.fit_result.posterior
    return {k: float(post[k].values.ravel()[0]) for k in ("r", "alpha", "a", "b")}


FITTERS = {"clm": _fit_clm, "lifetimes": _fit_lifetimes, "pymc-marketing": _fit_pymc}


def _child(name, x, tx, T, queue):
    base = _rss_mb()
    t0 = time.perf_counter()
    try:
        params = FITTERS[name](x, tx, T)
        error = None
    except Exception as exc:  # a peer failing is a result worth reporting
        params, error = None, f"{type(exc).__name__}: {exc}"[:120]
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((params, seconds, max(peak - base, 0.0), error))


def run_one(name, x, tx, T):
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, x, tx, T, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def loglik(params, data) -> float:
    p = np.array([params[k] for k in ("r", "alpha", "a", "b")])
    return BetaGeoModel()._loglik(p, data)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--skip", nargs="*", default=[])
    args = parser.parse_args()
    for n in args.sizes:
        x, tx, T = simulate_beta_geo(n, **TRUE, T=np.random.default_rng(1).uniform(26, 78, n),
                                     seed=42)
        data = _prepare(x, tx, T)
        print(f"\n## {n:,} customers ({int((x > 0).sum()):,} repeat buyers)")
        print(f"{'library':<16}{'time s':>9}{'ratio':>8}{'peak MB':>10}{'log-likelihood':>20}"
              f"{'rel. diff':>11}")
        rows = {}
        for name in FITTERS:
            if name in args.skip:
                continue
            rows[name] = run_one(name, x, tx, T)
        ref_time, ref_ll = rows["clm"][1], loglik(rows["clm"][0], data)
        for name, (params, seconds, peak, error) in rows.items():
            if error:
                print(f"{name:<16} failed: {error}")
                continue
            ll = loglik(params, data)
            print(f"{name:<16}{seconds:>9.2f}{seconds / ref_time:>8.1f}{peak:>10.0f}"
                  f"{ll:>20.4f}{abs(ll - ref_ll) / abs(ref_ll):>11.1e}")
        model = BetaGeoModel.from_dict({"model": "bgnbd", "params": rows["clm"][0]})
        t0 = time.perf_counter()
        model.expected_purchases(52, frequency=x, recency=tx, T=T)
        t1 = time.perf_counter()
        model.probability_alive(frequency=x, recency=tx, T=T)
        t2 = time.perf_counter()
        print(f"clm predictions: expected purchases {t1 - t0:.2f} s, P(alive) {t2 - t1:.2f} s")


if __name__ == "__main__":
    main()
