"""Log-normal noise on 1 + y: the negative log-likelihood behind squared log error
(SPEC §9.4; XGBoost `reg:squaredlogerror`, Keras `MeanSquaredLogarithmicError`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.errors import FitError
from losscli.noise import crps as crps_forms
from losscli.noise.base import ContinuousFamily, Frameworks, Params, log_param
from losscli.noise.gaussian import Gaussian, normal_score
from losscli.noise.lognormal import LogNormal
from losscli.noise.sums import total_weight, wmean, wsum
from losscli.noise.support import Support

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
ABOVE_MINUS_ONE = Support("reals > −1", lower=-1.0)
_GAUSS = Gaussian()
_FLAT = "every log(1 + y) equals its centre, so σ is 0 and the likelihood is unbounded"


_LOGNORMAL = LogNormal()


class Log1pNormal(ContinuousFamily):
    """log(1 + y) ~ N(log(1 + m), σ²); m = ŷ (the median, exp(E log(1 + y)) − 1), y > −1.

    log q = −log(1 + y) − ½ log(2π) − log σ − (log(1 + y) − log(1 + m))² / (2σ²)
    (the Gaussian on t = log(1 + y) and the Jacobian 1/(1 + y)). Conditional MLE:
    σ² = Σ w (log(1 + y) − log(1 + ŷ))² / W. Marginal: log(1 + m) = Σ w log(1 + y) / W,
    σ² about it. Minimising it over m with σ fixed is minimising the squared log error
    (log(1 + ŷ) − log(1 + y))², which the framework losses below take on y itself.
    """

    name = "log1p_normal"
    loss = "squared log error (MSLE)"
    support = ABOVE_MINUS_ONE
    pred_domain = ABOVE_MINUS_ONE
    prediction = "median"
    nuisance = ("sigma",)
    marginal_params = ("median", "sigma")
    location = "median"
    param_domains = {"median": "real", "sigma": "positive"}
    closed_form = ("marginal", "conditional")
    spread = ("sigma", "scale")
    applies_to = ("count", "positive", "semicontinuous")
    frameworks = Frameworks(
        pytorch=None,
        sklearn=None,
        xgboost="reg:squaredlogerror",
        lightgbm=None,
        keras="MeanSquaredLogarithmicError",
    )

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        sigma = params["sigma"]
        t = np.log1p(y)
        z = t - np.log1p(pred)
        z /= sigma
        z *= z
        z *= -0.5
        z -= log_param(sigma) + HALF_LOG_2PI
        z -= t
        return z

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        out: Params = {}
        r = np.log1p(y)
        if pred is None:
            center = wmean(r, w)
            out["median"] = math.expm1(center)
        else:
            center = np.log1p(pred)
        r -= center
        var = wsum(r * r, w) / total_weight(y.size, w)
        if not var > 0.0:
            raise FitError(_FLAT)
        out["sigma"] = math.sqrt(var)
        return out

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """The Gaussian's closed forms on log(1 + y) (marginal mode)."""
        if pred is not None:
            return None
        if free == ("median",):
            fit = _GAUSS.fit_given_closed(np.log1p(y), w, None, given, ("mean",))
            return {"median": math.expm1(fit["mean"])}
        if free == ("sigma",):
            return self.fit(y, w, given["median"])
        return None

    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray:
        """The Gaussian's statistics of log(1 + y) (given log(1 + ŷ))."""
        return _GAUSS.fit_stats(np.log1p(y), None if pred is None else np.log1p(pred))

    def fit_from_stats(self, stats: Any, conditional: bool) -> Params:
        try:
            fit = _GAUSS.fit_from_stats(stats, conditional)
        except FitError:
            raise FitError(_FLAT) from None
        out: Params = {} if conditional else {"median": math.expm1(fit["mean"])}
        out["sigma"] = fit["sigma"]
        return out

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        try:
            return self.fit(y, w, pred)
        except FitError:
            # every y equals its prediction: the log-scale sd of the unit interval
            # around each y, about 1/(√12 (1 + y))
            ys = np.maximum(y, 0.0)
            start: Params = {} if pred is not None else {
                "median": math.expm1(wmean(np.log1p(ys), w))}
            start["sigma"] = math.sqrt(wmean(1.0 / (12.0 * (1.0 + ys) ** 2), w))
            return start

    def standardised(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return (np.log1p(y) - np.log1p(pred)) / params["sigma"]

    def standard_quantiles(self, q: np.ndarray, params: Params) -> np.ndarray:
        return special.ndtri(q)

    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log Φ((log(1 + x) − log(1 + m))/σ); −∞ at x ≤ −1."""
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.log1p(np.maximum(x, -1.0))
        z -= np.log1p(pred)
        z /= params["sigma"]
        return special.log_ndtr(z)

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.log1p(np.maximum(x, -1.0))
        np.subtract(np.log1p(pred), z, out=z)
        z /= params["sigma"]
        return special.log_ndtr(z)

    def interval_loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log P(y − ½ < Y ≤ y + ½) = log P(y + ½ < 1 + Y ≤ y + 3/2): 1 + Y is lognormal
        with median 1 + ŷ and the same σ, so lognormal's interval likelihood (its proven
        quadrature, else its tails) at y + 1 (counts: the interval never reaches below
        1 + Y's lower end 0)."""
        return _LOGNORMAL.interval_loglik(np.add(y, 1.0, dtype=np.float64),
                                          np.add(pred, 1.0, dtype=np.float64),
                                          {"sigma": params["sigma"]})

    def interval_spread_derivatives(self, a: np.ndarray, b: np.ndarray, pred: Any,
                                    params: Params, ll: np.ndarray
                                    ) -> tuple[np.ndarray, np.ndarray]:
        """(P′/P, P″/P) in s = log σ: lognormal's at 1 + a, 1 + b (as `interval_loglik`)."""
        return _LOGNORMAL.interval_spread_derivatives(np.add(a, 1.0), np.add(b, 1.0),
                                                      np.add(pred, 1.0), params, ll)

    # diagnostics: on the scale of log(1 + y)
    decomposition = "nll"
    calibration = True
    forecast_scale = "log"

    def forecast(self, y: np.ndarray, pred: Any) -> tuple[np.ndarray, np.ndarray]:
        """(log(1 + ŷ), log(1 + y)): the median's log1p is the mean of log(1 + y)."""
        return np.broadcast_to(np.log1p(np.asarray(pred, dtype=np.float64)),
                               np.shape(y)), np.log1p(y)

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        sigma = params["sigma"]
        if np.ndim(sigma):
            return np.broadcast_to(np.square(sigma), np.shape(f)).copy()
        return np.full(np.shape(f), float(sigma) ** 2)

    def row_terms(self, y: np.ndarray) -> np.ndarray:
        return np.log1p(y)[None, :]

    def recalibrated_score(self, rc, sw, mean, m2, terms, W, value_counts) -> float:
        """The Gaussian score of log(1 + y), plus the Jacobian Σw log(1 + y) / W."""
        return normal_score((m2 + sw * (mean - rc) ** 2).sum() / W) + float(terms[0]) / W

    def to_scipy(self, pred: Any, params: Params) -> Any:
        """1 + Y is log-normal with median 1 + m: scipy's lognorm shifted by −1."""
        from scipy import stats

        return stats.lognorm(s=params["sigma"], scale=1.0 + np.asarray(pred), loc=-1.0)

    def crps_lower(self, c: Any, pred: Any, params: Params) -> np.ndarray:
        """∫_{−1}^c F(x)² dx = ∫_{−∞}^{log(1 + c)} Φ((w − log(1 + m))/σ)² eʷ dw (1 + x = eʷ):
        the shared quadrature (`crps_forms.lower_square`) of that integrand, analytic in
        w, where in x it has an essential singularity at −1."""
        return crps_forms.lower_square(_LogScale(), np.log1p(c), np.log1p(pred), params)

    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """1 + Y is log-normal with median 1 + m and the CRPS is unchanged by a shift:
        the log-normal's closed form at 1 + y (`crps_forms.lognormal`)."""
        return crps_forms.lognormal(np.add(1.0, y), np.add(1.0, pred), params["sigma"])

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) = (1 + m) e^(σ Φ⁻¹(q)) − 1."""
        return np.expm1(np.log1p(np.asarray(pred, dtype=np.float64))
                        + np.asarray(params["sigma"]) * special.ndtri(q))


class _LogScale:
    """w = log(1 + y) ~ N(log(1 + m), σ²) with logcdf(w) = log Φ(z) + w/2, so that
    exp(2 logcdf) = Φ(z)² eʷ is the integrand of `Log1pNormal.crps_lower`."""

    def logcdf(self, w: np.ndarray, centre: Any, params: Params) -> np.ndarray:
        return special.log_ndtr((w - centre) / params["sigma"]) + 0.5 * w

    def ppf(self, q: float, centre: Any, params: Params) -> np.ndarray:
        return np.asarray(centre, dtype=np.float64) + np.asarray(params["sigma"]) * special.ndtri(q)
