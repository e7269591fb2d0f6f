"""`clm history`, `clm model check` and `clm explain` on a workspace a run has filled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clm.datasets.demo import generate_demo, write_demo


def clm(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLM_")}
    env["CLM_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "clm", *args], capture_output=True, text=True, env=env, check=False
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("history-cli")
    write_demo(generate_demo(customers=200, seed=4), root / "data")
    result = clm(
        "run",
        "--data",
        str(root / "data"),
        "--as-of",
        "2025-06-30",
        "--out",
        str(root / "out"),
        home=root / "home",
    )
    assert result.returncode == 0, result.stderr
    return root / "home"


def test_backfill_evaluates_each_step_and_a_second_time_writes_nothing(home):
    args = (
        "history",
        "backfill",
        "--start",
        "2025-07-01",
        "--end",
        "2025-09-30",
        "--step",
        "month",
    )
    first = clm(*args, home=home)
    assert first.returncode == 0, first.stderr
    assert "3 dates evaluated" in first.stdout
    again = clm(*args, home=home)
    assert again.returncode == 0, again.stderr
    assert "0 dates written" in again.stdout


def test_rebuild_previews_as_json_without_saving(home, tmp_path):
    model = tmp_path / "relationship.yaml"
    from importlib import resources

    model.write_text(
        resources.files("clm").joinpath("resources/models/relationship.yaml").read_text("utf-8"),
        encoding="utf-8",
    )
    result = clm(
        "history",
        "rebuild",
        "--model",
        str(model),
        "--as-of",
        "2025-06-30",
        "--format",
        "json",
        home=home,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert payload["customers"] == 200
    assert sum(cell["customers"] for cell in payload["matrix"]) == 200
    assert "preview only" in result.stdout


def test_explain_names_the_stage_and_judges_each_criterion(home):
    result = clm("explain", "C00001", "--as-of", "2025-06-30", home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("C00001: ")
    assert "days_since_last_order" in result.stdout


def test_explain_an_unknown_customer_is_one_line(home):
    result = clm("explain", "NOPE", "--as-of", "2025-06-30", home=home)
    assert result.returncode == 2
    assert "NOPE" in result.stderr and "Traceback" not in result.stderr


def test_model_check_lists_stages_and_a_typo_names_the_line(tmp_path, home):
    ok = clm("model", "check", "default", home=home)
    assert ok.returncode == 0, ok.stderr
    assert "churned" in ok.stdout and "prospect" in ok.stdout

    from importlib import resources

    text = resources.files("clm").joinpath("resources/models/default.yaml").read_text("utf-8")
    bad = tmp_path / "typo.yaml"
    bad.write_text(
        text.replace("days_since_last_order > 90", "days_since_last_ordr > 90", 1), encoding="utf-8"
    )
    line = next(i for i, row in enumerate(bad.read_text().splitlines(), 1) if "ordr" in row)
    result = clm("model", "check", str(bad), home=home)
    assert result.returncode == 2
    assert f"line {line}" in result.stderr
    assert "days_since_last_order" in result.stderr  # the suggestion
