import numpy as np
import pytest
from cdnow import rft

from clm.analytics.clv import BetaGeoModel, customer_lifetime_value
from clm.errors import InputError


@pytest.fixture(scope="module")
def model(cdnow):
    return BetaGeoModel().fit(*rft(cdnow))


def test_undiscounted_clv_is_margin_times_spend_times_expected_purchases(model):
    kw = {"frequency": [0, 2, 10], "recency": [0.0, 30.0, 37.0], "T": [38.0, 38.0, 38.0]}
    clv = customer_lifetime_value(model, **kw, expected_spend=[20.0, 30.0, 40.0], horizon=52,
                                  periods=12, discount_rate=0.0, margin=0.3)
    expected = 0.3 * np.array([20.0, 30.0, 40.0]) * model.expected_purchases(52, **kw)
    np.testing.assert_allclose(clv, expected, rtol=1e-10)


def test_discounting_lowers_clv(model):
    kw = {"frequency": [3], "recency": [30.0], "T": [38.0], "expected_spend": 25.0,
          "horizon": 104, "periods": 24}
    low = customer_lifetime_value(model, **kw, discount_rate=0.0)
    high = customer_lifetime_value(model, **kw, discount_rate=0.02)
    assert 0 < high[0] < low[0]


def test_margin_outside_unit_interval_is_refused(model):
    with pytest.raises(InputError, match="margin"):
        customer_lifetime_value(model, frequency=[1], recency=[1.0], T=[2.0], expected_spend=1,
                                horizon=1, periods=1, discount_rate=0, margin=30)
