import numpy as np
import pytest

from clm.analytics.clv import ShiftedBetaGeoModel
from clm.errors import InputError, ModelFitError

# Fader & Hardie (2007), Journal of Interactive Marketing 21(1): alive per year 0..7
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(("alive", "alpha", "beta"), [
    (REGULAR, 0.704, 1.182),
    (HIGH_END, 0.668, 3.806),
])
def test_reproduces_published_cohort_estimates(alive, alpha, beta):
    model = ShiftedBetaGeoModel().fit(alive)
    assert f"{model.params_['alpha']:.3g}" == f"{alpha:.3g}"
    assert f"{model.params_['beta']:.3g}" == f"{beta:.3g}"
    assert all(0 < se < 1 for se in model.standard_errors_.values())


def test_survival_tracks_the_cohort_and_retention_rises():
    model = ShiftedBetaGeoModel().fit(REGULAR)
    fitted_alive = model.expected_alive(np.arange(8), cohort_size=1000)
    np.testing.assert_allclose(fitted_alive, REGULAR, rtol=0.03)
    rates = model.retention_rate(np.arange(1, 13))
    assert np.all(np.diff(rates) > 0) and np.all(rates < 1)


def test_discounted_expected_lifetime_falls_with_the_discount_rate():
    model = ShiftedBetaGeoModel().fit(HIGH_END)
    assert model.discounted_expected_lifetime(discount_rate=0.05) > \
        model.discounted_expected_lifetime(discount_rate=0.2) > 1.0


def test_rising_alive_count_names_the_period():
    with pytest.raises(InputError, match="period 2: alive count rises"):
        ShiftedBetaGeoModel().fit([100, 80, 90, 70])


def test_too_few_periods_is_a_model_fit_error():
    with pytest.raises(ModelFitError, match="at least 2"):
        ShiftedBetaGeoModel().fit([100, 80])
