import numpy as np
import pytest
from cdnow import rft

from clm.analytics.clv import ParetoNBDModel
from clm.errors import ModelFitError


@pytest.fixture(scope="module")
def fitted(cdnow):
    return ParetoNBDModel().fit(*rft(cdnow))


def test_reproduces_published_cdnow_estimates(fitted):
    # Fader, Hardie & Lee (2005), JMR 42(4): r=0.553, alpha=10.578, s=0.606, beta=11.669
    expected = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    for name, value in expected.items():
        assert f"{fitted.params_[name]:.3g}" == f"{value:.3g}", name
    assert fitted.log_likelihood_ == pytest.approx(-9594.97, abs=0.01)


def test_likelihood_matches_the_hypergeometric_closed_form(cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    x, tx, T = (np.asarray(v, dtype=float) for v in rft(cdnow))
    from clm.analytics.clv.pareto_nbd import _prepare

    model = ParetoNBDModel()
    for params in ([0.553, 10.578, 0.606, 11.669], [2.0, 100.0, 0.3, 0.01], [0.1, 0.01, 2.0, 1e3]):
        ours, _ = model._loglik(np.array(params), _prepare(x, tx, T))
        ref = lifetimes.ParetoNBDFitter._conditional_log_likelihood(params, x, tx, T).sum()
        assert ours == pytest.approx(ref, abs=1e-3)


def test_gradient_is_the_derivative_of_the_likelihood(cdnow):
    from clm.analytics.clv.pareto_nbd import _prepare

    data = _prepare(*(np.asarray(v, dtype=float) for v in rft(cdnow)))
    model = ParetoNBDModel()
    params = np.array([0.4, 6.0, 0.9, 20.0])
    _, grad = model._loglik(params, data)
    for j in range(4):
        up, down = params.copy(), params.copy()
        up[j] *= 1 + 1e-6
        down[j] *= 1 - 1e-6
        numeric = (model._loglik(up, data)[0] - model._loglik(down, data)[0]) / (2e-6 * params[j])
        assert grad[j] == pytest.approx(numeric, rel=1e-4, abs=1e-3)


def test_predictions_match_lifetimes_and_are_sane(fitted, cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    import pandas as pd

    ref = lifetimes.ParetoNBDFitter()
    ref.params_ = pd.Series(fitted.params_)
    x, tx, T = (np.asarray(v, dtype=float) for v in rft(cdnow))
    p = fitted.probability_alive(frequency=x, recency=tx, T=T)
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p, ref.conditional_probability_alive(x, tx, T), rtol=1e-6)
    np.testing.assert_allclose(
        fitted.expected_purchases(39, frequency=x, recency=tx, T=T),
        ref.conditional_expected_number_of_purchases_up_to_time(39, x, tx, T), rtol=1e-6)


def test_customers_with_hundreds_of_purchases_stay_finite(fitted):
    x = np.array([300.0, 900.0])
    tx = np.array([77.95, 0.5])
    T = np.array([78.0, 78.0])
    p = fitted.probability_alive(frequency=x, recency=tx, T=T)
    e = fitted.expected_purchases(52, frequency=x, recency=tx, T=T)
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(e))
    assert p[0] > 0.5 > p[1]  # the heavy buyer gone silent for 77 weeks is likely dead


def test_too_few_repeat_buyers_is_a_model_fit_error():
    with pytest.raises(ModelFitError, match="at least 10"):
        ParetoNBDModel().fit([0, 0, 1], [0.0, 0.0, 1.0], [5.0, 5.0, 5.0])


@pytest.mark.slow
def test_full_cdnow_master_converges_without_tuning(cdnow_master):
    model = ParetoNBDModel().fit(*rft(cdnow_master))
    assert model.n_observations_ == 23_570
    assert all(np.isfinite(v) and v > 0 for v in model.params_.values())
    assert all(np.isfinite(v) for v in model.standard_errors_.values())
