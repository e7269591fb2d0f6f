"""`clm run`: the batch contract other tools and users' scripts rely on."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clm.datasets.demo import generate_demo, write_demo

STAGE_IDS = {"prospect", "new", "growing", "mature", "declining", "churned"}


def clm(*args: str, home: Path) -> subprocess.CompletedProcess:
    """Run the real command in a child process, with its workspace (CLM_HOME) in ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLM_")}
    env["CLM_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "clm", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("data")
    data = generate_demo(customers=400, seed=3)
    write_demo(data, folder)
    return folder, data


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_run_writes_the_four_contract_files(demo_folder, tmp_path):
    folder, _ = demo_folder
    out = tmp_path / "out"
    result = clm(
        "run", "--data", str(folder), "--as-of", "2025-12-31", "--out", str(out), home=tmp_path
    )
    assert result.returncode == 0, result.stderr

    stages = _rows(out / "stages.csv")
    assert list(stages[0]) == [
        "customer_id",
        "stage",
        "stage_since",
        "previous_stage",
        "grey_zone",
        "reasons",
    ]
    assert {r["stage"] for r in stages} <= STAGE_IDS
    assert {r["grey_zone"] for r in stages} <= {"true", "false"}
    assert len(stages) == len(set(r["customer_id"] for r in stages))

    transitions = _rows(out / "transitions.csv")
    assert list(transitions[0]) == [
        "customer_id",
        "from_stage",
        "to_stage",
        "changed_on",
        "reasons",
        "model_version",
    ]
    # Every customer's last transition is the stage they are in, since that date.
    last = {}
    for row in transitions:
        last[row["customer_id"]] = row
    for row in stages:
        assert last[row["customer_id"]]["to_stage"] == row["stage"]
        assert last[row["customer_id"]]["changed_on"] == row["stage_since"]

    quarantine = _rows(out / "quarantine.csv")
    assert list(quarantine[0]) == ["file", "line", "field", "reason", "raw"]
    assert all(json.loads(r["raw"]) for r in quarantine)

    run = json.loads((out / "run.json").read_text("utf-8"))
    by_table = {Path(f["file"]).stem: f for f in run["files"]}
    assert set(by_table) == {"customers", "orders", "events", "interactions"}
    for f in run["files"]:
        assert f["read"] == f["imported"] + f["quarantined"]
    assert sum(f["quarantined"] for f in run["files"]) == len(quarantine) > 0


def test_rerunning_the_same_date_changes_nothing(demo_folder, tmp_path):
    folder, _ = demo_folder
    out = tmp_path / "out"
    args = ("run", "--data", str(folder), "--as-of", "2025-06-30", "--out", str(out))
    assert clm(*args, home=tmp_path).returncode == 0
    first = {p.name: p.read_bytes() for p in out.glob("*.csv")}
    second_run = clm(*args, home=tmp_path)
    assert second_run.returncode == 0, second_run.stderr
    assert {p.name: p.read_bytes() for p in out.glob("*.csv")} == first
    run = json.loads((out / "run.json").read_text("utf-8"))
    assert all(f.get("added", 0) == 0 for f in run["files"])


def test_missing_data_folder_fails_with_one_line(tmp_path):
    result = clm(
        "run",
        "--data",
        str(tmp_path / "nope"),
        "--as-of",
        "2025-01-01",
        "--out",
        str(tmp_path / "out"),
        home=tmp_path,
    )
    assert result.returncode != 0
    assert "nope" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreadable_model_fails_with_one_line(demo_folder, tmp_path):
    folder, _ = demo_folder
    model = tmp_path / "broken.yaml"
    model.write_text("stages: [unclosed\n", encoding="utf-8")
    result = clm(
        "run",
        "--data",
        str(folder),
        "--as-of",
        "2025-01-01",
        "--out",
        str(tmp_path / "out"),
        "--model",
        str(model),
        home=tmp_path,
    )
    assert result.returncode != 0
    assert "broken.yaml" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_date_option_is_a_usage_error(tmp_path):
    result = clm(
        "run",
        "--data",
        str(tmp_path),
        "--as-of",
        "31/12/2025",
        "--out",
        str(tmp_path),
        home=tmp_path,
    )
    assert result.returncode == 2
    assert "as-of" in result.stderr
