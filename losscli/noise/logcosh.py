"""Hyperbolic secant noise: the negative log-likelihood behind the log-cosh loss."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losscli import optimize
from losscli.errors import FitError
from losscli.noise.base import ContinuousFamily, Frameworks, Params
from losscli.noise.laplace import weighted_median
from losscli.noise.sums import total_weight, wsum
from losscli.noise.support import REAL

LOG_PI = math.log(math.pi)
LOG_2 = math.log(2.0)
LOG_2_OVER_PI = math.log(2.0 / math.pi)
# E|X − X′| of the standard hyperbolic secant: 14ζ(3)/π²
GINI_MEAN_DIFFERENCE = 14.0 * 1.2020569031595942854 / math.pi ** 2
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(20)


def log_cosh(x: Any) -> np.ndarray:
    """ln cosh x = |x| + ln(1 + e^(−2|x|)) − ln 2, without overflow."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    out = np.exp(-2.0 * a)
    np.log1p(out, out=out)
    out += a
    out -= LOG_2
    return out


class LogCosh(ContinuousFamily):
    """y ~ hyperbolic secant: q(y) = sech(r/s)/(πs), r = y − ŷ, ŷ the location, s > 0
    the scale (scipy hypsecant(loc=ŷ, scale=s)); F(y) = (2/π) arctan(e^(r/s)).

    log q = −ln(πs) − ln cosh(r/s). At s = 1 the nll is log cosh(r) + ln π: Keras'
    `LogCosh` (CatBoost's `LogCosh`), whose minimiser over ŷ is this family's location.
    Conditional: ŝ solves Σw (r/s) tanh(r/s) = W (a decreasing function of s, whose root
    lies in [m/2, m], m = Σw|r|/W, since |x| − 1 ≤ x tanh x ≤ |x|). Marginal: the
    location by Brent on its profile (ŝ at each location), then Newton steps on both.
    """

    name = "logcosh"
    loss = "log-cosh loss"
    support = REAL
    pred_domain = REAL
    prediction = "location"
    nuisance = ("scale",)
    marginal_params = ("loc", "scale")
    location = "loc"
    param_domains = {"scale": "positive", "loc": "real"}
    applies_to = ("binary", "count", "integer", "proportion", "positive", "real")
    default_for = ()
    candidate = False  # compare-noise-models fits it only when named (SPEC §9.3)
    spread = ("scale", "scale")
    # both losses are log cosh(y − ŷ): the member s = 1 (any s on targets divided by s)
    frameworks = Frameworks(pytorch=None, sklearn=None, xgboost=None, lightgbm=None,
                            catboost="LogCosh", keras="LogCosh")

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        s = params["scale"]
        with np.errstate(invalid="ignore", divide="ignore"):
            ll = log_cosh(np.subtract(y, pred) / s)
            ll *= -1.0
            ll -= np.log(s) + LOG_PI
        return ll

    # -- fits
    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        y = np.asarray(y, dtype=np.float64)
        if pred is not None:
            return {"scale": self._scale(np.subtract(y, pred), w)}
        W = total_weight(y.size, w)
        m0 = weighted_median(y, w)

        def nll(p: Params) -> float:
            r = y - p["loc"]
            s = self._scale(r, w)
            return math.log(s) + wsum(log_cosh(r / s), w) / W

        p = optimize.minimize_params(nll, {"loc": m0}, ("loc",), self.param_domains)
        p["scale"] = self._scale(y - p["loc"], w)

        def total(q: Params) -> float:
            with np.errstate(all="ignore"):
                return wsum(self.loglik(y, q["loc"], q), w)

        polished, status = optimize.polish(total, p, self.marginal_params, self.param_domains)
        return polished if status == optimize.CONVERGED else p

    @staticmethod
    def _scale(r: np.ndarray, w: np.ndarray | None) -> float:
        """The root ŝ of Σw (r/s) tanh(r/s)/W = 1, in [m/2, m] (m = Σw|r|/W)."""
        a = np.abs(r)
        W = total_weight(a.size, w)
        m = wsum(a, w) / W
        if not m > 0.0:
            raise FitError("every residual is 0, so the hyperbolic secant scale s is 0 "
                           "and the likelihood is unbounded")

        def score(s: float) -> float:
            z = a / s
            return wsum(z * np.tanh(z), w) / W - 1.0

        lo, hi = 0.5 * m, m
        if score(hi) >= 0.0:  # |x| tanh|x| < |x| strictly: only by rounding
            return hi
        return optimize.root(score, lo, hi, xtol=1e-15 * m, rtol=1e-15)

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """A held location with the scale free: the conditional fit at it."""
        if pred is None and free == ("scale",) and "loc" in given:
            return {"scale": self._scale(np.subtract(y, given["loc"]), w)}
        return None

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        try:
            start = self.fit(y, w, pred)
        except FitError:
            start = {"loc": weighted_median(y, w)} if pred is None else {}
            start["scale"] = 0.5
        # the discretised likelihood is bounded; keep the start away from a zero scale
        start["scale"] = max(start["scale"], 0.05)
        return start

    # -- c.d.f.s, in log space
    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return _log_lower(np.subtract(x, pred) / params["scale"])

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return _log_lower(np.subtract(pred, x) / params["scale"])

    def cdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return np.exp(self.logcdf(x, pred, params))

    def standardised(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return np.subtract(y, pred) / params["scale"]

    def standard_quantiles(self, q: np.ndarray, params: Params) -> np.ndarray:
        """ln tan(πq/2)."""
        with np.errstate(divide="ignore"):
            return np.log(np.tan(0.5 * math.pi * np.asarray(q, dtype=np.float64)))

    def ppf(self, q: Any, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) = ŷ + s ln tan(πq/2)."""
        return np.asarray(pred, dtype=np.float64) + np.asarray(params["scale"]) * \
            self.standard_quantiles(q, params)

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        """(π s/2)²."""
        v = np.square(0.5 * math.pi * np.asarray(params["scale"], dtype=np.float64))
        return np.broadcast_to(v, np.shape(f)).astype(np.float64)

    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """CRPS = E|X − y| − ½E|X − X′| in closed form, z = (y − ŷ)/s: for the standard
        hyperbolic secant E|X − z| = |z| + 2∫_{−∞}^{−|z|} F = |z| + (4/π) Ti₂(e^(−|z|))
        (Ti₂(u) = ∫₀ᵘ arctan(t)/t dt, by 20-point Gauss–Legendre: arctan(t)/t is analytic
        within |t| < 1, so the error is below 1e-20) and E|X − X′| = 14ζ(3)/π²."""
        s = np.asarray(params["scale"], dtype=np.float64)
        a = np.abs(np.subtract(y, pred) / s)
        u = np.exp(-a)
        t = np.multiply.outer(u, 0.5 * (_GL_NODES + 1.0))  # the nodes on [0, u]
        with np.errstate(invalid="ignore", divide="ignore", under="ignore"):
            ratio = np.where(t > 0.0, np.arctan(t) / np.where(t > 0.0, t, 1.0), 1.0)
        ti2 = 0.5 * u * (ratio @ _GL_WEIGHTS)
        return s * (a + (4.0 / math.pi) * ti2 - 0.5 * GINI_MEAN_DIFFERENCE)

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        return stats.hypsecant(loc=pred, scale=params["scale"])


def _log_lower(z: np.ndarray) -> np.ndarray:
    """log F(z) = ln(2/π) + ln arctan(eᶻ) for z ≤ 0 (= ln(2/π) + z + ln(arctan t / t),
    t = eᶻ, whose last term is −t²/3 to within t⁴ where t underflows), and
    ln(1 − (2/π) arctan(e^(−z))) above."""
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        t = np.exp(-np.abs(z))
        ratio = np.where(t > 1e-8, np.arctan(t) / np.where(t > 0.0, t, 1.0), 1.0 - t * t / 3)
        low = LOG_2_OVER_PI - np.abs(z) + np.log(ratio)
        return np.where(z <= 0.0, low, np.log1p(-np.exp(low)))
