"""Log-normal noise: the negative log-likelihood behind squared error on log y."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.errors import FitError
from losscli.noise import crps as crps_forms
from losscli.noise import quadrature
from losscli.noise.base import ContinuousFamily, Params, log_param, take_params
from losscli.noise.gaussian import (
    Gaussian,
    normal_bound,
    normal_log_interval,
    normal_score,
    normal_spread_derivatives,
)
from losscli.noise.sums import total_weight, wmean, wsum
from losscli.noise.support import POSITIVE

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_GAUSS = Gaussian()


class LogNormal(ContinuousFamily):
    """log y ~ N(log m, σ²); m = ŷ (the median, exp of the log-scale mean), y > 0.

    log q = −log y − ½ log(2π) − log σ − (log y − log m)² / (2σ²).
    Conditional MLE: σ² = Σ w (log y − log ŷ)² / W. Marginal: log m = Σ w log y / W,
    σ² about it. Minimising it over m with σ fixed is minimising the squared error of
    log ŷ against log y, so the framework losses below apply to log y (transform "log").
    """

    name = "lognormal"
    loss = "squared error on log y"
    support = POSITIVE
    pred_domain = POSITIVE
    prediction = "median"
    nuisance = ("sigma",)
    marginal_params = ("median", "sigma")
    location = "median"
    param_domains = {"median": "positive", "sigma": "positive"}
    transform = "log"
    closed_form = ("marginal", "conditional")
    spread = ("sigma", "scale")
    applies_to = ("count", "positive")
    # the squared-error losses, applied to log y (transform = "log")
    frameworks = Gaussian.frameworks

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        sigma = params["sigma"]
        logy = np.log(y)
        z = logy - np.log(pred)
        z /= sigma
        z *= z
        z *= -0.5
        z -= log_param(sigma) + HALF_LOG_2PI
        z -= logy
        return z

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """The Gaussian's closed forms on log y. Marginal, σ given: log m =
        Σ(w log y/σ²) / Σ(w/σ²); m given: σ² = Σ w (log y − log m)² / W."""
        if pred is not None:
            return None
        if free == ("median",):
            fit = _GAUSS.fit_given_closed(np.log(y), w, None, given, ("mean",))
            return {"median": math.exp(fit["mean"])}
        if free == ("sigma",):
            return self.fit(y, w, given["median"])
        return None

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        out: Params = {}
        r = np.log(y)
        if pred is None:
            center = wmean(r, w)
            out["median"] = math.exp(center)
        else:
            center = np.log(pred)
        r -= center
        var = wsum(r * r, w) / total_weight(y.size, w)
        if not var > 0.0:
            raise FitError("every log y equals its centre, so the log-normal scale σ is 0 "
                           "and the likelihood is unbounded")
        out["sigma"] = math.sqrt(var)
        return out

    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray:
        """The Gaussian's statistics of log y (given log ŷ)."""
        return _GAUSS.fit_stats(np.log(y), None if pred is None else np.log(pred))

    def fit_from_stats(self, stats: Any, conditional: bool) -> Params:
        """The Gaussian's fit on log y: log m its mean, σ its scale."""
        try:
            fit = _GAUSS.fit_from_stats(stats, conditional)
        except FitError:
            raise FitError("every log y equals its centre, so the log-normal scale σ is 0 "
                           "and the likelihood is unbounded") from None
        out: Params = {} if conditional else {"median": math.exp(fit["mean"])}
        out["sigma"] = fit["sigma"]
        return out

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        # y = 0 is scored on [0, ½]: its density fit needs y > 0, so start from y ≥ ½
        ys = np.maximum(y, 0.5)
        try:
            return self.fit(ys, w, pred)
        except FitError:
            # every y equals its prediction: start from the log-scale sd of the unit
            # interval around each y, about 1/(√12 y)
            start: Params = {} if pred is not None else {"median": math.exp(wmean(np.log(ys), w))}
            start["sigma"] = math.sqrt(wmean(1.0 / (12.0 * ys * ys), w))
            return start

    def standardised(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return (np.log(y) - np.log(pred)) / params["sigma"]

    def standard_quantiles(self, q: np.ndarray, params: Params) -> np.ndarray:
        return special.ndtri(q)

    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        with np.errstate(divide="ignore"):  # x = 0 (the interval of y = 0): log 0 = −∞
            z = np.log(x)
        z -= np.log(pred)
        z /= params["sigma"]
        return special.log_ndtr(z)

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        with np.errstate(divide="ignore"):
            z = np.log(x)
        np.subtract(np.log(pred), z, out=z)
        z /= params["sigma"]
        return special.log_ndtr(z)

    def interval_spread_derivatives(self, a: np.ndarray, b: np.ndarray, pred: Any,
                                    params: Params, ll: np.ndarray
                                    ) -> tuple[np.ndarray, np.ndarray]:
        """(P′/P, P″/P) in s = log σ of P(a < Y ≤ b), z = log(x/m)/σ, m = ŷ
        (`normal_spread_derivatives`; a = 0 is z = −∞)."""
        sigma = params["sigma"]
        with np.errstate(divide="ignore"):
            za = np.log(np.maximum(a, 0.0) / pred) / sigma
            zb = np.log(np.divide(b, pred)) / sigma
        return normal_spread_derivatives(za, zb, ll)

    def interval_loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log P(max(y − ½, 0) < Y ≤ y + ½): for y − ½ > 0 by Gauss–Legendre quadrature in
        t = log y where `gaussian.normal_bound` proves it within quadrature.TOL; for the
        intervals [0, y + ½] (−½ < y ≤ ½) exactly as the one-sided tail
        log Φ(z_b), z_b = log((y + ½)/m)/σ (F(0) = 0); all other rows by the generic
        difference of the smaller tails.

        In t the interval is [log a, log b], a = y − ½, b = y + ½, and T = log Y is
        N(log m, σ²): with the midpoint t_m = ½ log(ab) and half-width h = ½ log(b/a) =
        ½ log1p(1/a), the interval is z + δ s, s ∈ [−1, 1], in standard units, with
        z = (t_m − log m)/σ = log(√(ab)/m)/σ and δ = h/σ. As for the Gaussian,
        g(s) = −z δ s − δ² s²/2 exactly, so c = −z δ, C = δ², Q(A) = δ² A²/2, and
        log P = log φ(z) + log δ + log Σᵢ wᵢ e^{g(sᵢ)}. z is formed from the ratio √(ab)/m
        (three roundings, so about 2.5 ulps absolute in its log) rather than from a
        difference of logarithms, except where that ratio over- or underflows (ab beyond
        1e308, or m beyond about 1e±300), which take ½(log a + log b) − log m.
        """
        y = np.asarray(y, dtype=np.float64)
        sigma = params["sigma"]
        rows = np.ndim(sigma) > 0  # σ per row: the same formulas with 1/σ per row
        if y.ndim != 1 or np.ndim(pred) > 1 or not (rows or 0.0 < sigma < math.inf):
            return super().interval_loglik(y, pred, params)
        mu = np.broadcast_to(np.asarray(pred, dtype=np.float64), y.shape)
        inv_all = 1.0 / sigma

        def block(sl: slice, out: np.ndarray) -> np.ndarray:
            yb, mb = y[sl], mu[sl]
            inv_sigma = inv_all[sl] if rows else inv_all
            done = yb > 0.5  # y − ½ > 0: log a is finite
            if not done.all():
                zero = ~done
                zero &= yb > -0.5  # the intervals [0, y + ½]: log P = log Φ(z_b)
                if zero.any():
                    zb = yb[zero] + 0.5
                    zb /= mb[zero]
                    np.log(zb, out=zb)
                    zb *= inv_sigma[zero] if rows else inv_sigma
                    out[zero] = special.log_ndtr(zb)
                if not done.any():
                    return zero
                yb, mb = yb[done], mb[done]
                if rows:
                    inv_sigma = inv_sigma[done]
            else:
                zero = None
            a = yb - 0.5
            delta = np.reciprocal(a)
            np.log1p(delta, out=delta)
            delta *= 0.5 * inv_sigma
            z = yb + 0.5
            z *= a
            np.sqrt(z, out=z)
            z /= mb
            far = ~(z > 0.0) | (z == math.inf)  # √(ab)/m over- or underflowed
            np.log(z, out=z)
            if far.any():  # the difference of the logs (|log m| ≳ 700 or ab > 1e308)
                z[far] = 0.5 * (np.log(a[far]) + np.log(yb[far] + 0.5)) - np.log(mb[far])
            z *= inv_sigma
            mask = quadrature.proven(*normal_bound(z, delta))
            if not mask.all():
                done[np.flatnonzero(done)[~mask]] = False
                z, delta = z[mask], delta[mask]
            if mask.any():
                quadrature.store(out, done, normal_log_interval(z, delta))
            if zero is not None:
                done |= zero
            return done

        def fallback(rest: np.ndarray) -> np.ndarray:
            return super(LogNormal, self).interval_loglik(
                y[rest], mu[rest], take_params(params, rest) if rows else params)

        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return quadrature.evaluate(y.size, block, fallback)[0]

    # diagnostics: on the log scale
    decomposition = "nll"
    calibration = True
    forecast_scale = "log"

    def forecast(self, y: np.ndarray, pred: Any) -> tuple[np.ndarray, np.ndarray]:
        """(log ŷ, log y): the median's log is the mean of log y."""
        return np.broadcast_to(np.log(np.asarray(pred, dtype=np.float64)), np.shape(y)), \
            np.log(y)

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        sigma = params["sigma"]
        if np.ndim(sigma):
            return np.broadcast_to(np.square(sigma), np.shape(f)).copy()
        return np.full(np.shape(f), float(sigma) ** 2)

    def row_terms(self, y: np.ndarray) -> np.ndarray:
        return np.log(y)[None, :]

    def recalibrated_score(self, rc, sw, mean, m2, terms, W, value_counts) -> float:
        """The Gaussian score of log y, plus the Jacobian Σw log y / W."""
        return normal_score((m2 + sw * (mean - rc) ** 2).sum() / W) + float(terms[0]) / W

    def closed_se(self, params: Params, W: float, conditional: bool) -> dict:
        """Gaussian on log y: σ/√(2W); marginal median e^μ: e^μ·σ/√W (the information
        in μ is W/σ², carried to the median's scale by its Jacobian at the MLE)."""
        s = params["sigma"]
        out = {"sigma": s / math.sqrt(2.0 * W)}
        if not conditional:
            out["median"] = params["median"] * s / math.sqrt(W)
        return out

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        return stats.lognorm(s=params["sigma"], scale=pred)

    # -- proper scores (SPEC §8.3)
    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """The closed form of `crps_forms.lognormal` (median m = ŷ, log-scale σ)."""
        return crps_forms.lognormal(y, pred, params["sigma"])

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) = m e^(σ Φ⁻¹(q))."""
        return crps_forms.arr(pred) * np.exp(crps_forms.arr(params["sigma"])
                                             * special.ndtri(q))
