"""Session fixtures: CDNOW summaries computed once."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from cdnow import cdnow_orders, summarize


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    """Calibration/holdout summary of the CDNOW sample in weeks (2,357 customers)."""
    return summarize(cdnow_orders())


@pytest.fixture(scope="session")
def cdnow_master() -> pd.DataFrame:
    """Calibration summary of the full CDNOW master in weeks (23,570 customers)."""
    return summarize(cdnow_orders("CDNOW_master.txt"))
