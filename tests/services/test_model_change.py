"""Changing the stage model: the preview moves nobody for real; saving adopts the new history."""

from __future__ import annotations

import datetime as dt
from importlib import resources

import pytest

from clm.analytics.rules import load_model
from clm.config import get_settings
from clm.datasets.demo import generate_demo, write_demo
from clm.services.history import StageHistory
from clm.services.model_change import (
    active_version,
    preview_model_change,
    save_model_change,
    stored_stages,
)
from clm.services.pipeline import open_workspace, run_pipeline

AS_OF = dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("model-change")
    write_demo(generate_demo(customers=300, seed=9), root / "data")
    settings = get_settings(home=root / "home")
    run_pipeline(data_dir=root / "data", as_of=AS_OF, out=root / "out", settings=settings)
    return settings, root


@pytest.fixture(scope="module")
def stricter_model(workspace):
    """The default model with churn after 60 days instead of 90."""
    _, root = workspace
    text = resources.files("clm").joinpath("resources/models/default.yaml").read_text("utf-8")
    assert "days_since_last_order > 90" in text
    path = root / "stricter.yaml"
    path.write_text(
        text.replace("days_since_last_order > 90", "days_since_last_order > 60"), encoding="utf-8"
    )
    return load_model(path)


def test_preview_counts_who_would_move_without_saving_anything(workspace, stricter_model):
    settings, _ = workspace
    wh = open_workspace(settings)
    default = load_model("default")
    saved_before = StageHistory(wh, model=default).transitions().count().execute()

    diff = preview_model_change(wh, proposed=stricter_model, as_of=AS_OF)

    assert diff.active_version == default.version
    assert diff.proposed_version == stricter_model.version != default.version
    assert int(diff.matrix.customers.sum()) == diff.customers == 300
    moved = diff.matrix[diff.matrix.from_stage != diff.matrix.to_stage]
    assert diff.moved == int(moved.customers.sum()) > 0
    assert "churned" in set(moved.to_stage)  # a stricter churn rule moves people into churned
    before = stored_stages(wh, version=default.version, as_of=AS_OF).set_index("customer_id")
    for row in moved.itertuples():
        assert 1 <= len(row.examples) <= 3
        for cid in row.examples:
            assert before.loc[cid, "stage"] == row.from_stage
    # Nothing saved changed.
    assert active_version(wh) == default.version
    assert StageHistory(wh, model=default).transitions().count().execute() == saved_before
    assert stored_stages(wh, version=stricter_model.version, as_of=AS_OF).empty


def test_saving_adopts_the_previewed_history(workspace, stricter_model):
    settings, _ = workspace
    wh = open_workspace(settings)
    diff = preview_model_change(wh, proposed=stricter_model, as_of=AS_OF)
    saved = save_model_change(wh, proposed=stricter_model)
    assert saved > 0
    assert active_version(wh) == stricter_model.version
    after = stored_stages(wh, version=stricter_model.version, as_of=AS_OF)
    counts = after.stage.value_counts()
    expected = diff.matrix.groupby("to_stage").customers.sum()
    assert counts.sort_index().to_dict() == expected.sort_index().to_dict()
    # The old version's history is kept, so the change can be undone.
    assert not stored_stages(wh, version=load_model("default").version, as_of=AS_OF).empty
