"""docs/stage-models.md documents every field and function, shows the shipped models verbatim,
and its TOML example loads."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from clm.analytics.rules import parse_model, shipped_models
from clm.analytics.rules.loader import CRITERION_KEYS, FALLBACK_KEYS, MODEL_KEYS, STAGE_KEYS
from clm.analytics.rules.parser import FUNCTIONS

DOC = (Path(__file__).resolve().parents[3] / "docs" / "stage-models.md").read_text("utf-8")


@pytest.mark.parametrize("key", sorted({*MODEL_KEYS, *STAGE_KEYS, *CRITERION_KEYS, *FALLBACK_KEYS}))
def test_every_field_of_the_file_format_is_documented(key):
    assert f"| `{key}` |" in DOC or f"`{{{key}:" in DOC or f"`{key}`" in DOC, key


@pytest.mark.parametrize("func", FUNCTIONS)
def test_every_function_is_documented(func):
    assert f"`{func}(" in DOC


@pytest.mark.parametrize("name", shipped_models())
def test_every_shipped_model_is_shown_verbatim(name):
    text = resources.files("clm").joinpath(f"resources/models/{name}.yaml").read_text("utf-8")
    assert text.strip() in DOC


def test_the_toml_example_loads():
    [block] = re.findall(r"```toml\n(.*?)```", DOC, flags=re.S)
    model = parse_model(block, filename="doc.toml", fmt="toml")
    assert model.stage_ids == ("lost", "active")
