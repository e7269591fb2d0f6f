import numpy as np
import pytest
from cdnow import rft

from clm.analytics.clv import BetaGeoModel, holdout_report
from clm.analytics.clv.evaluation import REPORT_COLUMNS
from clm.errors import InputError


def test_holdout_report_sets_predicted_beside_actual(cdnow):
    model = BetaGeoModel().fit(*rft(cdnow))
    report = holdout_report(model, cdnow)
    assert tuple(report.columns) == REPORT_COLUMNS
    assert list(report["frequency_cal"]) == ["0", "1", "2", "3", "4", "5", "6", "7+", "total"]
    total = report.iloc[-1]
    assert total["customers"] == 2357 and total["actual_purchases"] == 1882
    # BG/NBD predicts the CDNOW holdout within about 15% in total (FHL 2005, fig. 4)
    assert total["predicted_purchases"] == pytest.approx(1882, rel=0.15)
    assert np.all(np.diff(report["predicted_per_customer"].iloc[:-1]) > 0)


def test_holdout_report_needs_the_holdout_columns(cdnow):
    model = BetaGeoModel().fit(*rft(cdnow))
    with pytest.raises(InputError, match="frequency_holdout"):
        holdout_report(model, cdnow.drop(columns="frequency_holdout"))
