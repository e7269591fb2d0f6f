"""Maximum-likelihood machinery shared by the customer-value models.

Every model in this package is a handful of positive parameters fitted by maximum likelihood.
The optimiser works on the logarithms of the parameters, so positivity needs no constraint and
the scales of the parameters (``alpha`` in weeks, ``a`` unitless) do not fight each other, and it
is given the analytic gradient of the log-likelihood, so it needs few evaluations and converges
tightly. Standard errors come from the observed information: the Hessian of the negative
log-likelihood at the optimum, obtained by forward differences of the analytic gradient, inverted
and carried back from log-parameters to parameters by the delta method
(``se(theta) = theta * se(log theta)``).

A model only says how to compute its log-likelihood and gradient; this module owns the
optimiser, the convergence checks (a non-converged fit, a parameter running off to its bound or a
non-finite value is a ``ModelFitError`` in the user's terms, never a NaN parameter), the fitted
state (``params_``, ``log_likelihood_``, ``standard_errors_``) and JSON persistence. Models are
never pickled.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self

import numpy as np
from scipy import optimize

from clm.errors import InputError, ModelFitError, NotFittedError

# Log-parameters live in [-LOG_BOUND, LOG_BOUND]: 2e-9 .. 5e8, far beyond any sane value.
LOG_BOUND = 20.0
_BOUND_SLACK = 1e-3
# A log-parameter beyond this (3e-7 .. 3e6) that is still moving is drifting off to infinity.
_DRIFT = 15.0

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]
Progress = Callable[[int, float], None]
"""Called after each optimiser iteration with (iteration, current log-likelihood)."""


class MaximumLikelihoodModel(ABC):
    """Base of the fitted models: a named positive parameter vector and its likelihood.

    Subclasses set ``name`` (the CLI/JSON name), ``param_names`` (as in the papers) and
    implement ``_objective`` (the total log-likelihood and its gradient with respect to the
    parameters, not their logs) and their own ``fit``.
    """

    name: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]

    def __init__(self) -> None:
        self.params_: dict[str, float] | None = None
        self.log_likelihood_: float | None = None
        self.standard_errors_: dict[str, float] | None = None
        self.n_observations_: int | None = None

    # -- to implement ------------------------------------------------------------------
    @abstractmethod
    def _loglik(self, params: np.ndarray, data: Any) -> tuple[float, np.ndarray]:
        """Total log-likelihood at ``params`` and its gradient d LL / d params."""

    # -- fitting -----------------------------------------------------------------------
    def _fit_mle(self, data: Any, *, initial: np.ndarray, n_observations: int,
                 progress: Progress | None = None, standard_errors: bool = True,
                 warm_start: bool = False) -> Self:
        """Maximise the log-likelihood from ``initial`` and store the fitted state.

        ``warm_start`` says ``initial`` is already close (a fit on a subsample): try damped
        Newton steps first and fall back to L-BFGS-B only if they do not converge.
        """
        scale = float(max(n_observations, 1))

        memo: dict[bytes, tuple[float, np.ndarray]] = {}

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            key = np.asarray(log_params, dtype=float).tobytes()
            if key not in memo:
                memo.clear()  # keep only the latest point: repeated checks cost nothing
                memo[key] = _objective(log_params)
            return memo[key]

        def _objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(log_params)
            with np.errstate(all="ignore"):
                ll, grad = self._loglik(params, data)
            if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
                # Steer the optimiser back: a huge value with a zero gradient makes the
                # line search shrink its step instead of crashing.
                return 1e100, np.zeros_like(log_params)
            # minimise the mean negative LL; chain rule to log-parameters
            return -ll / scale, -(grad * params) / scale

        iteration = 0

        def callback(intermediate_result: optimize.OptimizeResult) -> None:
            nonlocal iteration
            iteration += 1
            if progress is not None:
                progress(iteration, -float(intermediate_result.fun) * scale)

        x0 = np.log(np.asarray(initial, dtype=float))
        bounds = [(-LOG_BOUND, LOG_BOUND)] * len(x0)
        result = None
        hessians: list[np.ndarray] = []  # Newton's last one serves the standard errors
        if warm_start:
            # Started near the optimum (a subsample fit): Newton steps alone usually finish.
            x, fun = _newton_polish(objective, x0, float(objective(x0)[0]), steps=6,
                                    hessians=hessians)
            if np.max(np.abs(objective(x)[1])) < 1e-6:
                result = optimize.OptimizeResult(x=x, fun=fun, message="Newton from warm start")
                callback(result)
        if result is None:
            result = optimize.minimize(
                objective, x0, jac=True, method="L-BFGS-B", bounds=bounds, callback=callback,
                options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-8},
            )
            # L-BFGS-B can stop on a line-search hiccup just short of the optimum; restart
            # once from where it stopped (cheap: few iterations remain).
            if not result.success and np.max(np.abs(result.jac)) > 1e-4:
                result = optimize.minimize(
                    objective, result.x, jac=True, method="L-BFGS-B", bounds=bounds,
                    callback=callback, options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-8},
                )
            result.x, result.fun = _newton_polish(objective, np.asarray(result.x, dtype=float),
                                                  float(result.fun), hessians=hessians)
        self._check_result(result, objective)
        params = np.exp(result.x)
        ll = -float(result.fun) * scale
        self.params_ = {n: float(v) for n, v in zip(self.param_names, params, strict=True)}
        self.log_likelihood_ = ll
        self.n_observations_ = int(n_observations)
        self.standard_errors_ = (
            self._standard_errors(objective, result.x, scale,
                                  hessian=hessians[-1] if hessians else None)
            if standard_errors else None
        )
        return self

    def _check_result(self, result: optimize.OptimizeResult, objective: Objective) -> None:
        x = np.asarray(result.x, dtype=float)
        if not np.all(np.isfinite(x)) or not np.isfinite(result.fun) or result.fun >= 1e99:
            raise ModelFitError(
                f"{self.name}: the likelihood could not be evaluated at any usable parameter "
                "values; check the input for extreme or inconsistent values"
            )
        grad_norm = float(np.max(np.abs(objective(x)[1])))
        at_bound = [
            n for n, v in zip(self.param_names, x, strict=True)
            if abs(v) >= LOG_BOUND - _BOUND_SLACK or (abs(v) > _DRIFT and grad_norm > 1e-4)
        ]
        if at_bound:
            raise ModelFitError(
                f"{self.name}: parameter {', '.join(at_bound)} ran off to an extreme value; "
                "the data do not identify the model (too little variation between customers "
                "or too short an observation period)"
            )
        if grad_norm > 1e-4:
            raise ModelFitError(
                f"{self.name}: the fit did not converge ({result.message}); "
                f"largest gradient {grad_norm:.2g}"
            )

    def _standard_errors(self, objective: Objective, x: np.ndarray, scale: float, *,
                         hessian: np.ndarray | None = None) -> dict[str, float]:
        """Delta-method standard errors from the numerically differentiated analytic gradient.

        ``hessian`` (of the mean objective, from the last Newton step a hair away from ``x``)
        is reused when given, saving one gradient per parameter on large data.
        """
        k = len(x)
        if hessian is None:
            hessian = _hessian(objective, x, objective(x)[1])
        hess = hessian * scale  # of the total negative LL
        try:
            cov = np.linalg.inv(hess)
            diag = np.diag(cov)
        except np.linalg.LinAlgError:
            diag = np.full(k, np.nan)
        se_log = np.sqrt(np.where(diag > 0, diag, np.nan))
        params = np.exp(x)
        return {n: float(p * s) for n, p, s in zip(self.param_names, params, se_log, strict=True)}

    # -- fitted state ------------------------------------------------------------------
    def _require_fitted(self) -> np.ndarray:
        if self.params_ is None:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(...) or from_json(...) first"
            )
        return np.array([self.params_[n] for n in self.param_names], dtype=float)

    @property
    def is_fitted(self) -> bool:
        return self.params_ is not None

    def to_dict(self) -> dict[str, Any]:
        """Fitted parameters as plain data (the JSON shape; never a pickle)."""
        self._require_fitted()
        return {
            "model": self.name,
            "params": dict(self.params_ or {}),
            "log_likelihood": self.log_likelihood_,
            "standard_errors": {
                k: (None if math.isnan(v) else v) for k, v in (self.standard_errors_ or {}).items()
            },
            "n_observations": self.n_observations_,
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a fitted model from ``to_dict`` output; checks the model name and parameters."""
        if data.get("model") != cls.name:
            raise InputError(
                f"saved parameters are for model {data.get('model')!r}, not {cls.name!r}",
                field="model",
            )
        raw = data.get("params") or {}
        missing = [n for n in cls.param_names if n not in raw]
        if missing:
            raise InputError(
                f"saved {cls.name} parameters lack {', '.join(missing)}", field="params"
            )
        params = {n: float(raw[n]) for n in cls.param_names}
        bad = [n for n, v in params.items() if not (math.isfinite(v) and v > 0)]
        if bad:
            raise InputError(
                f"saved {cls.name} parameter {', '.join(bad)} must be a positive number",
                field="params",
            )
        model = cls()
        model.params_ = params
        ll = data.get("log_likelihood")
        model.log_likelihood_ = None if ll is None else float(ll)
        se = data.get("standard_errors") or {}
        model.standard_errors_ = {
            n: (math.nan if se.get(n) is None else float(se[n])) for n in cls.param_names
        }
        n_obs = data.get("n_observations")
        model.n_observations_ = None if n_obs is None else int(n_obs)
        return model

    @classmethod
    def from_json(cls, text: str) -> Self:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"saved parameters are not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InputError("saved parameters must be a JSON object")
        return cls.from_dict(data)

    def __repr__(self) -> str:
        if self.params_ is None:
            return f"{type(self).__name__}(unfitted)"
        inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"{type(self).__name__}({inner})"


def _hessian(objective: Objective, x: np.ndarray, grad: np.ndarray | None = None
             ) -> np.ndarray:
    """Differences of the analytic gradient, symmetrised (forward when ``grad`` at ``x`` is
    given: half the evaluations, and accurate to ~1e-5, plenty for Newton steps and SEs)."""
    k = len(x)
    hess = np.empty((k, k))
    for j in range(k):
        h = 1e-5 * max(1.0, abs(x[j]))
        up = x.copy()
        up[j] += h
        if grad is not None:
            hess[:, j] = (objective(up)[1] - grad) / h
        else:
            down = x.copy()
            down[j] -= h
            hess[:, j] = (objective(up)[1] - objective(down)[1]) / (2 * h)
    return 0.5 * (hess + hess.T)


def _newton_polish(objective: Objective, x: np.ndarray, fun: float,
                   *, steps: int = 8, hessians: list[np.ndarray] | None = None
                   ) -> tuple[np.ndarray, float]:
    """A few damped Newton steps from the quasi-Newton optimum (or a warm start).

    L-BFGS-B can stop a little short when the line search runs out of floating-point
    resolution (large data, flat optimum); Newton steps on the exact-gradient Hessian finish
    the job quadratically. A step is kept only if it does not make the objective worse; once
    the Newton decrement says the remaining gain is negligible the last step is taken without
    another Hessian.
    """
    value, grad = objective(x)
    for _ in range(steps):
        if np.max(np.abs(grad)) < 1e-9:
            break
        try:
            hess = _hessian(objective, x, grad)
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        if hessians is not None:
            hessians.append(hess)
        decrement = 0.5 * float(np.dot(grad, step))
        accepted = False
        for damping in (1.0, 0.5, 0.25, 0.125):
            candidate = np.clip(x - damping * step, -LOG_BOUND, LOG_BOUND)
            c_value, c_grad = objective(candidate)
            if c_value <= value + 1e-15 * abs(value):
                x, value, grad, accepted = candidate, c_value, c_grad, True
                break
        if not accepted or (damping == 1.0 and 0 <= decrement < 1e-11 * max(abs(value), 1.0)):
            break
    return (x, value) if value <= fun else (x, fun)


def require_repeat_buyers(model: str, n_repeat: int, *, needed: int) -> None:
    """Refuse a fit with too few repeat buyers, saying how many there are and are needed."""
    if n_repeat < needed:
        raise ModelFitError(
            f"{model}: only {n_repeat} customer(s) made a repeat purchase in the calibration "
            f"period; at least {needed} are needed to fit the model",
            repeat_buyers=n_repeat,
            needed=needed,
        )
