"""The demo: generate a company's exports, then run the batch pipeline over them.

It writes the generated files to ``OUT/data`` exactly as a user's exports would look, so the
demo exercises the same import path (lenient parsing, quarantine) as real data does.
"""

from __future__ import annotations

from pathlib import Path

from clm.config import Settings
from clm.datasets.demo import generate_demo, write_demo
from clm.services.pipeline import RunProgress, RunResult, run_pipeline


def run_demo(
    *,
    out: Path,
    settings: Settings,
    customers: int = 5000,
    seed: int = 7,
    progress: RunProgress | None = None,
) -> RunResult:
    """Generate the demo company into ``out/data`` and run the pipeline as of its last day."""
    data = generate_demo(customers=customers, seed=seed)
    data_dir = out / "data"
    write_demo(data, data_dir)
    return run_pipeline(
        data_dir=data_dir, as_of=data.end, out=out, settings=settings, progress=progress
    )
