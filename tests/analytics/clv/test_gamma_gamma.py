import numpy as np
import pytest

from clm.analytics.clv import GammaGammaModel
from clm.errors import InputError, ModelFitError


@pytest.fixture(scope="module")
def fitted(cdnow):
    return GammaGammaModel().fit(cdnow["frequency"], cdnow["monetary_value"])


def test_reproduces_published_cdnow_estimates(fitted):
    # Fader, Hardie & Lee (2005), JMR 42(4): p=6.25, q=3.74, gamma=15.44
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert f"{fitted.params_[name]:.3g}" == f"{value:.3g}", name
    assert fitted.n_observations_ == 946  # repeat buyers only


def test_expected_spend_shrinks_towards_the_population_mean(fitted):
    mean = fitted.population_mean_spend()
    spend = fitted.expected_spend(frequency=[0, 1, 20], monetary_value=[0.0, 100.0, 100.0])
    assert spend[0] == pytest.approx(mean)
    assert mean < spend[1] < spend[2] < 100.0


def test_hundreds_of_transactions_stay_finite(fitted):
    spend = fitted.expected_spend(frequency=[500, 2000], monetary_value=[12.0, 40.0])
    assert np.all(np.isfinite(spend))
    assert spend[1] == pytest.approx(40.0, rel=0.01)


def test_negative_spend_names_the_customer():
    with pytest.raises(InputError, match="customer b: monetary_value must be an amount >= 0"):
        GammaGammaModel().fit([1, 2], [10.0, -3.0], ids=["a", "b"])


def test_free_repeat_purchases_are_left_out_not_fatal(cdnow):
    x = np.append(cdnow["frequency"].to_numpy(), 3)
    m = np.append(cdnow["monetary_value"].to_numpy(), 0.0)
    model = GammaGammaModel().fit(x, m)
    assert model.excluded_zero_spend_ == 1
    assert model.n_observations_ == 946


def test_identical_spend_everywhere_is_a_model_fit_error():
    with pytest.raises(ModelFitError, match="same mean spend"):
        GammaGammaModel().fit([1] * 20, [10.0] * 20)
