import json

import pytest

from clm.analytics.clv import MODELS, ShiftedBetaGeoModel
from clm.errors import InputError


def test_every_model_round_trips_through_json():
    for name, cls in MODELS.items():
        params = {p: 0.5 + i for i, p in enumerate(cls.param_names)}
        model = cls.from_dict({"model": name, "params": params, "log_likelihood": -1.5})
        again = cls.from_json(model.to_json())
        assert again.params_ == params and again.log_likelihood_ == -1.5
        assert json.loads(model.to_json())["model"] == name


def test_fitted_model_json_has_params_and_standard_errors():
    data = json.loads(ShiftedBetaGeoModel().fit([1000, 631, 468, 382]).to_json())
    assert set(data) >= {"model", "params", "log_likelihood", "standard_errors"}
    assert set(data["params"]) == {"alpha", "beta"}


def test_loading_parameters_of_another_model_is_refused():
    with pytest.raises(InputError, match="for model 'bgnbd', not 'sbg'"):
        ShiftedBetaGeoModel.from_dict({"model": "bgnbd", "params": {}})


def test_non_positive_saved_parameter_is_refused():
    with pytest.raises(InputError, match="beta must be a positive number"):
        ShiftedBetaGeoModel.from_dict({"model": "sbg", "params": {"alpha": 1, "beta": -2}})
