"""The engine-run frames the sync benchmarks feed to ``clm.services.sync.sync_stages``.

Shared by ``bench_sync.py`` and ``bench_api.py``: both load customers through the real sync,
and the current-stage and transition frames it takes have the same shape in both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def stage_frames(
    ids, stages, since: pd.DatetimeIndex, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each customer's current stage (entered on ``since``, ~10% grey-zone) and the one
    transition that put them there, with a one-line reason."""
    current = pd.DataFrame(
        {
            "customer_id": ids,
            "stage": stages,
            "stage_since": since.date,
            "previous_stage": None,
            "grey_zone": rng.random(len(ids)) < 0.1,
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
    return current, transitions
