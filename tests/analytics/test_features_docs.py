"""docs/features.md documents every catalog feature (base and value) with its Chinese name, unit
and window."""

from __future__ import annotations

from pathlib import Path

from clm.analytics.feature_catalog import CATALOG

DOC = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def _rows() -> dict[str, list[str]]:
    rows = {}
    for line in DOC.read_text("utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 6:
            rows[cells[0].strip("`")] = cells
    return rows


def test_every_catalog_feature_has_a_row_with_its_labels_unit_and_window():
    rows = _rows()
    for f in CATALOG:
        assert f.name in rows, f"{f.name} is not documented in docs/features.md"
        _, zh, _, unit, window, dtype = rows[f.name]
        assert (zh, unit, window, dtype) == (f.zh, f.unit, f.window, f.dtype), f.name


def test_docs_list_no_feature_the_catalog_lacks():
    assert set(_rows()) == {f.name for f in CATALOG}
