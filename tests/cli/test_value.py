"""``clm value``: the exact JSON contract, the other formats, and one-line errors."""

import io
import json
from importlib import resources

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from clm.cli import value


@pytest.fixture(scope="module")
def app():
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """clm"""

    value.register(root)
    return root


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory):
    pytest.importorskip("lifetimes")
    text = (resources.files("lifetimes") / "datasets" / "CDNOW_sample.txt").read_text()
    raw = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None, dtype={2: str, 1: str})
    path = tmp_path_factory.mktemp("cdnow") / "orders.csv"
    pd.DataFrame({
        "customer_id": raw[1],
        "ordered_at": pd.to_datetime(raw[2], format="%Y%m%d").dt.strftime("%Y-%m-%d"),
        "amount": raw[4],
    }).to_csv(path, index=False)
    return path


def _fit(app, *args):
    return CliRunner().invoke(app, ["value", "fit", *args], catch_exceptions=False)


@pytest.mark.parametrize(("model", "params", "ll"), [
    ("bgnbd", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, -9582.43),
    ("pnbd", {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, -9594.97),
    ("gg", {"p": 6.25, "q": 3.74, "gamma": 15.44}, None),
])
def test_fit_prints_the_exact_json_contract(app, cdnow_csv, model, params, ll):
    result = _fit(app, "--model", model, "--orders", str(cdnow_csv),
                  "--calibration-end", "1997-09-30", "--time-unit", "week", "--format", "json",
                  "--as-of", "1998-06-30")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["model", "params", "log_likelihood"]
    assert data["model"] == model
    assert list(data["params"]) == list(params)
    for name, published in params.items():
        assert f"{data['params'][name]:.3g}" == f"{published:.3g}"
    if ll is not None:
        assert data["log_likelihood"] == pytest.approx(ll, abs=0.01)


def test_sbg_reads_a_period_alive_cohort(app, tmp_path):
    cohort = tmp_path / "cohort.csv"
    cohort.write_text("period,alive\n" + "".join(
        f"{i},{n}\n" for i, n in enumerate([1000, 631, 468, 382, 326, 289, 262, 241])))
    result = _fit(app, "--model", "sbg", "--cohort", str(cohort), "--format", "json")
    data = json.loads(result.stdout)
    assert data["model"] == "sbg" and round(data["params"]["alpha"], 3) == 0.704


def test_csv_format_lists_parameters_with_standard_errors(app, cdnow_csv):
    result = _fit(app, "--model", "bgnbd", "--orders", str(cdnow_csv), "--calibration-end",
                  "1997-09-30", "--as-of", "1998-06-30", "--format", "csv")
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "model,param,value,std_error"
    assert [ln.split(",")[1] for ln in lines[1:]] == ["r", "alpha", "a", "b", "log_likelihood"]


def test_table_with_holdout_and_predict_write_per_customer_csv(app, cdnow_csv, tmp_path):
    saved = tmp_path / "bg.json"
    result = _fit(app, "--model", "bgnbd", "--orders", str(cdnow_csv), "--calibration-end",
                  "1997-09-30", "--holdout-end", "1998-06-30", "--as-of", "1998-06-30",
                  "--save", str(saved))
    assert result.exit_code == 0 and "7+" in result.stdout and "total" in result.stdout
    out = tmp_path / "pred.csv"
    result = CliRunner().invoke(app, [
        "value", "predict", "--params", str(saved), "--orders", str(cdnow_csv),
        "--calibration-end", "1997-09-30", "--horizon", "39", "--out", str(out)],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    pred = pd.read_csv(out)
    assert list(pred.columns) == ["customer_id", "expected_purchases", "p_alive"]
    assert len(pred) == 2357 and pred["p_alive"].between(0, 1).all()


def test_user_errors_are_one_line_through_the_entry_point(tmp_path, capsys):
    from clm.cli import main

    bad = tmp_path / "orders.csv"
    bad.write_text("customer_id,ordered_at,amount\na,2024-01-01,-3\n")
    with pytest.raises(SystemExit) as exc:
        main(["value", "fit", "--model", "bgnbd", "--orders", str(bad),
              "--calibration-end", "2024-06-30", "--format", "json"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "line 2, field amount: negative amount" in err and "Traceback" not in err


def test_every_label_exists_in_both_languages():
    for key, texts in value.LABELS.items():
        assert set(texts) == {"en", "zh-CN"}, key
        assert all(t.strip() for t in texts.values()), key
