"""Fixtures of the ingest tests; the file factories live in ``ingest_files``."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from ingest_files import customers_csv

from clm.config import ProjectConfig
from clm.ingest import FileReport, import_file


@pytest.fixture
def config() -> ProjectConfig:
    return ProjectConfig()


@pytest.fixture
def load_customers(tmp_path, warehouse, config):
    """Import customers C1..C3 so orders, events and interactions have someone to refer to."""

    def load(ids: Sequence[str] = ("C1", "C2", "C3")) -> FileReport:
        folder = tmp_path / "seed"
        folder.mkdir(exist_ok=True)
        return import_file(customers_csv(folder, ids), table="customers", warehouse=warehouse,
                           config=config)

    return load
