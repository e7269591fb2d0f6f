"""The documentation is part of the product: what a user can set or run must be written down."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clm.config import HistoryConfig, IngestConfig, Settings
from clm.domain.contract import TABLES

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def test_every_setting_is_documented_and_every_documented_setting_exists():
    text = _doc("configuration.md")
    for name in Settings.model_fields:
        assert f"`CLM_{name.upper()}`" in text, name
    documented = set(re.findall(r"`CLM_([A-Z_]+)`", text))
    assert documented == {n.upper() for n in Settings.model_fields}


def test_every_project_file_key_is_documented():
    text = _doc("configuration.md")
    for name in IngestConfig.model_fields:
        assert f"`ingest.{name}" in text, name
    for name in HistoryConfig.model_fields:
        assert f"`history.{name}`" in text, name


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_contract_column_is_documented(table):
    text = _doc("data-contract.md")
    for column in TABLES[table].columns:
        assert f"`{column.name}`" in text, (table, column.name)
        for value in column.allowed:
            assert f"`{value}`" in text, (table, column.name, value)


def test_every_feature_is_documented():
    from clm.analytics.feature_catalog import CATALOG

    text = _doc("features.md")
    for spec in CATALOG:
        assert f"`{spec.name}`" in text, spec.name


def test_default_stage_model_is_shown_verbatim():
    from importlib import resources

    model = resources.files("clm").joinpath("resources/models/default.yaml").read_text("utf-8")
    assert model.strip() in _doc("stage-models.md")


def test_every_document_the_readme_links_exists():
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)]+)\)", readme)
    assert len(links) >= 10
    missing = [link for link in links if not (DOCS.parent / link).exists()]
    assert not missing, missing
