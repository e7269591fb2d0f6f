"""The files a batch run writes: their names and columns are a contract with users' scripts.

``stages.csv``      customer_id, stage, stage_since, previous_stage, grey_zone, reasons
``transitions.csv`` customer_id, from_stage, to_stage, changed_on, reasons, model_version
``quarantine.csv``  file, line, field, reason, raw (the original row as JSON)
``values.csv``      customer_id, r_score, f_score, m_score, rfm_segment, value_tier, clv,
                   p_alive, expected_purchases
``run.json``        per input file: read, imported, quarantined (and added/updated/unchanged)

Files are written sorted and in UTF-8 (with a BOM for the CSVs, so Excel opens the Chinese
text correctly), so the same run writes the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from clm.ingest import ImportReport, quarantine_frame

STAGES_COLUMNS = ["customer_id", "stage", "stage_since", "previous_stage", "grey_zone", "reasons"]
TRANSITIONS_COLUMNS = [
    "customer_id",
    "from_stage",
    "to_stage",
    "changed_on",
    "reasons",
    "model_version",
]
QUARANTINE_COLUMNS = ["file", "line", "field", "reason", "raw"]
CSV_ENCODING = "utf-8-sig"


def _dates_as_text(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for c in columns:
        frame[c] = pd.to_datetime(frame[c]).dt.strftime("%Y-%m-%d")
    return frame


def stages_frame(stages: pd.DataFrame) -> pd.DataFrame:
    frame = stages[STAGES_COLUMNS].sort_values("customer_id", kind="stable").copy()
    frame = _dates_as_text(frame, ["stage_since"])
    frame["grey_zone"] = frame["grey_zone"].map({True: "true", False: "false"})
    return frame


def transitions_frame(transitions: pd.DataFrame) -> pd.DataFrame:
    frame = transitions[TRANSITIONS_COLUMNS].copy()
    frame = frame.sort_values(["changed_on", "customer_id"], kind="stable")
    return _dates_as_text(frame, ["changed_on"])


def write_outputs(
    out: Path,
    *,
    stages: pd.DataFrame,
    transitions: pd.DataFrame,
    report: ImportReport,
    values: pd.DataFrame | None = None,
    extra: dict | None = None,
) -> dict[str, Path]:
    """Write the four result files of a run into ``out``; returns their paths by name."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "stages": out / "stages.csv",
        "transitions": out / "transitions.csv",
        "quarantine": out / "quarantine.csv",
        "run": out / "run.json",
    }
    if values is not None:
        paths["values"] = out / "values.csv"
        values.to_csv(paths["values"], index=False, encoding=CSV_ENCODING)
    stages_frame(stages).to_csv(paths["stages"], index=False, encoding=CSV_ENCODING)
    transitions_frame(transitions).to_csv(paths["transitions"], index=False, encoding=CSV_ENCODING)
    quarantine = quarantine_frame(report)
    quarantine = quarantine.reindex(columns=QUARANTINE_COLUMNS)
    quarantine.to_csv(paths["quarantine"], index=False, encoding=CSV_ENCODING)
    run = report.to_json()
    if extra:
        run.update(extra)
    paths["run"].write_text(
        json.dumps(run, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    return paths
