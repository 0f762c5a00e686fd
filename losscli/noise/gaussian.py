"""Gaussian noise: the negative log-likelihood behind squared error (MSE)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.errors import FitError, OutOfRange
from losscli.noise.base import ContinuousFamily, Frameworks, Params
from losscli.noise.sums import block_sums, total_weight, wmean
from losscli.noise.support import REAL

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class Gaussian(ContinuousFamily):
    """y ~ N(μ, σ²), μ = ŷ (the mean).

    log q = −½ log(2π) − log σ − (y − μ)² / (2σ²).
    Conditional MLE: σ² = Σ w (y − ŷ)² / W. Marginal: μ = Σ w y / W, σ² about μ.
    Minimising it over μ with σ fixed is minimising the squared error.
    """

    name = "gaussian"
    loss = "squared error (MSE)"
    support = REAL
    pred_domain = REAL
    prediction = "mean"
    nuisance = ("sigma",)
    marginal_params = ("mean", "sigma")
    location = "mean"
    param_domains = {"sigma": "positive", "mean": "real"}
    closed_form = ("marginal", "conditional")
    applies_to = ("binary", "count", "integer", "proportion", "positive", "real")
    default_for = ("integer", "proportion", "positive", "real")
    frameworks = Frameworks(
        pytorch="torch.nn.MSELoss",
        sklearn="HistGradientBoostingRegressor(loss='squared_error')",
        xgboost="reg:squarederror",
        lightgbm="regression",
    )

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        sigma = params["sigma"]
        z = (y - pred) / sigma
        z *= z
        z *= -0.5
        z -= math.log(sigma) + HALF_LOG_2PI
        return z

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        out: Params = {}
        if pred is None:
            pred = out["mean"] = wmean(y, w)
        with np.errstate(over="ignore", invalid="ignore"):
            per_row = np.ndim(pred) == 1
            (ss,) = block_sums(
                lambda sl: (np.square(y[sl] - (pred[sl] if per_row else pred)),), y.size, w)
            var = ss / total_weight(y.size, w)
            spread = bool(np.any(y != pred)) if per_row else None
        return self._with_sigma(out, var, spread)

    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray:
        """Marginal: y (σ² is its variance); conditional: (y − ŷ)² (σ² is its mean) and
        |y − ŷ|, which tells residuals whose squares underflow float64 from none."""
        if pred is None:
            return y[None, :]
        r = np.subtract(y, pred)
        a = np.abs(r)
        return np.stack([np.square(r, out=r), a])

    def fit_from_stats(self, stats: Any, conditional: bool) -> Params:
        out: Params = {}
        if conditional:
            return self._with_sigma(out, float(stats.mean[0]), float(stats.mean[1]) > 0.0)
        out["mean"] = float(stats.mean[0])
        return self._with_sigma(out, float(stats.var[0]), None)

    def _with_sigma(self, out: Params, var: float, spread: bool | None) -> Params:
        """σ from σ²; `spread`: whether some residual is not 0 (None: not known)."""
        if not math.isfinite(var):
            raise OutOfRange("the squared residuals overflow float64 (values near 1e154 "
                             "or beyond): rescale the target and predictions")
        if not var > 0.0:
            if spread:
                raise OutOfRange("the squared residuals underflow float64 (differences "
                                 "near 1e-154 or below): rescale the target and predictions")
            if spread is None:
                raise FitError("every target is equal (or their spread underflows "
                               "float64), so the Gaussian scale σ is 0 and the likelihood "
                               "is unbounded")
            raise FitError("every residual is 0, so the Gaussian scale σ is 0 "
                           "and the likelihood is unbounded")
        out["sigma"] = math.sqrt(var)
        return out

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        try:
            start = self.fit(y, w, pred)
        except FitError:
            start = {"mean": wmean(y, w)} if pred is None else {}
            start["sigma"] = 0.5
        # the discretised likelihood is bounded; keep the start away from a zero scale
        start["sigma"] = max(start["sigma"], 0.05)
        return start

    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return special.log_ndtr((x - pred) / params["sigma"])

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return special.log_ndtr((pred - x) / params["sigma"])

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        return stats.norm(loc=pred, scale=params["sigma"])
