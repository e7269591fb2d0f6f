from pathlib import Path

from clm.cli.reference import render_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_in_docs_matches_the_commands():
    expected = render_reference()
    assert "### `clm run`" in expected and "`--as-of`" in expected
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/cli.md is stale: python -m clm.cli.reference > docs/cli.md"
    )
