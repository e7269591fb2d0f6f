import numpy as np
import pytest
from cdnow import rft

from clm.analytics.clv import BetaGeoModel
from clm.analytics.clv.simulate import simulate_beta_geo
from clm.errors import InputError, ModelFitError, NotFittedError


@pytest.fixture(scope="module")
def fitted(cdnow):
    return BetaGeoModel().fit(*rft(cdnow))


def test_reproduces_published_cdnow_estimates(fitted):
    # Fader, Hardie & Lee (2005), Marketing Science 24(2), table / text
    expected = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in expected.items():
        assert f"{fitted.params_[name]:.3g}" == f"{value:.3g}", name
    assert fitted.log_likelihood_ == pytest.approx(-9582.43, abs=0.01)


def test_standard_errors_are_positive_and_smaller_than_estimates(fitted):
    for name, se in fitted.standard_errors_.items():
        assert 0 < se < fitted.params_[name], name


def test_predictions_match_lifetimes_reference(fitted, cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    import pandas as pd

    ref = lifetimes.BetaGeoFitter()
    ref.params_ = pd.Series(fitted.params_)
    x, tx, T = (np.asarray(v, dtype=float) for v in rft(cdnow))
    ours = fitted.expected_purchases(39, frequency=x, recency=tx, T=T)
    theirs = ref.conditional_expected_number_of_purchases_up_to_time(39, x, tx, T)
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-7)
    np.testing.assert_allclose(fitted.probability_alive(frequency=x, recency=tx, T=T),
                               ref.conditional_probability_alive(x, tx, T), rtol=1e-9)
    assert fitted.expected_purchases_new(39) == pytest.approx(
        ref.expected_number_of_purchases_up_to_time(39), rel=1e-9)


def test_predictions_are_sane_and_monotone(fitted):
    x = np.array([0, 1, 5, 5, 5])
    tx = np.array([0.0, 10.0, 10.0, 20.0, 38.0])
    T = np.full(5, 38.0)
    p = fitted.probability_alive(frequency=x, recency=tx, T=T)
    assert np.all((p >= 0) & (p <= 1))
    assert p[2] < p[3] < p[4]  # a more recent last purchase means more likely alive
    e10 = fitted.expected_purchases(10, frequency=x, recency=tx, T=T)
    e20 = fitted.expected_purchases(20, frequency=x, recency=tx, T=T)
    assert np.all(e20 > e10) and np.all(e10 > 0)


def test_customers_with_hundreds_of_purchases_stay_finite(fitted):
    x = np.array([300, 800, 1500])
    tx = np.array([70.0, 77.0, 77.9])
    T = np.full(3, 78.0)
    p = fitted.probability_alive(frequency=x, recency=tx, T=T)
    e = fitted.expected_purchases(52, frequency=x, recency=tx, T=T)
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(e)) and np.all(e > 0)


def test_fit_with_heavy_buyers_recovers_parameters():
    x, tx, T = simulate_beta_geo(20_000, r=2.0, alpha=0.5, a=0.3, b=30.0, T=52.0, seed=3)
    assert x.max() > 300
    model = BetaGeoModel().fit(x, tx, T)
    assert all(np.isfinite(v) and v > 0 for v in model.params_.values())
    assert model.params_["r"] == pytest.approx(2.0, rel=0.15)
    assert model.params_["alpha"] == pytest.approx(0.5, rel=0.15)


def test_json_round_trip_keeps_parameters_and_predictions(fitted):
    again = BetaGeoModel.from_json(fitted.to_json())
    assert again.params_ == fitted.params_
    assert again.log_likelihood_ == fitted.log_likelihood_
    kw = {"frequency": [2], "recency": [30.43], "T": [38.86]}
    assert again.expected_purchases(10, **kw) == pytest.approx(fitted.expected_purchases(10, **kw))


def test_unfitted_use_raises_not_fitted():
    with pytest.raises(NotFittedError, match="fit"):
        BetaGeoModel().probability_alive(frequency=[1], recency=[1], T=[2])


def test_too_few_repeat_buyers_says_how_many_and_how_many_needed():
    x = [0] * 50 + [1, 2, 1]
    tx = [0.0] * 50 + [3.0, 4.0, 5.0]
    T = [10.0] * 53
    with pytest.raises(ModelFitError, match=r"only 3 customer\(s\).*at least 10"):
        BetaGeoModel().fit(x, tx, T)


def test_recency_greater_than_age_names_the_customer():
    message = r"customer c2: recency .* greater than the customer's age"
    with pytest.raises(InputError, match=message):
        BetaGeoModel().fit([1, 2], [3.0, 12.0], [10.0, 10.0], ids=["c1", "c2"])


def test_negative_or_fractional_frequency_is_refused():
    with pytest.raises(InputError, match="row 1: frequency must be a whole number"):
        BetaGeoModel().fit([1.5], [1.0], [2.0])
