"""Beta noise: the negative log-likelihood of proportions in (0, 1) (Beta NLL)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli import optimize
from losscli.errors import FitError, OutOfRange
from losscli.noise import crps as crps_forms
from losscli.noise.base import ContinuousFamily, Frameworks, Params
from losscli.noise.sums import total_weight, wmean, wsum
from losscli.noise.support import Support

UNIT_OPEN = Support("reals in (0, 1)", 0.0, 1.0)
_UNBOUNDED = "so the beta precision φ is infinite and the likelihood is unbounded"


class Beta(ContinuousFamily):
    """y ~ Beta(a, b), a = μφ, b = (1 − μ)φ; μ = ŷ (the mean) and y in (0, 1).

    log q = (a − 1) log y + (b − 1) log(1 − y) − log B(a, b); Var y = μ(1 − μ) / (1 + φ).
    Conditional MLE of the precision φ: the root of the score
    Σ w [μ log y + (1 − μ) log(1 − y) − μ ψ(μφ) − (1 − μ) ψ((1 − μ)φ) + ψ(φ)] = 0
    (decreasing in φ), found by Brent's method on log φ. Marginal: Newton on (a, b) with
    the sufficient statistics Σ w log y and Σ w log(1 − y); mean = a/(a + b),
    precision = a + b. The mean-precision parametrisation is Ferrari & Cribari-Neto's
    (2004) beta regression. Beta is never discretised (its target kind is proportion).
    """

    name = "beta"
    loss = "Beta NLL"
    support = UNIT_OPEN
    pred_domain = UNIT_OPEN
    prediction = "mean"
    nuisance = ("precision",)
    marginal_params = ("mean", "precision")
    location = "mean"
    param_domains = {"precision": "positive", "mean": "unit"}
    closed_form = ("marginal",)
    spread = ("precision", "inverse")  # Var y = μ(1 − μ)/(1 + φ): widening divides φ
    applies_to = ("proportion",)
    # none of the four has a beta objective; LightGBM's cross_entropy takes labels in
    # [0, 1] but is the Bernoulli cross-entropy, not a beta likelihood
    frameworks = Frameworks(pytorch=None, sklearn=None, xgboost=None, lightgbm=None)

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        phi = params["precision"]
        a = pred * phi
        b = (1.0 - pred) * phi
        out = np.log(y)
        out *= a - 1.0
        t = np.log1p(-y)
        t *= b - 1.0
        out += t
        out -= special.betaln(a, b)
        return out

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        if pred is None:
            return self._fit_marginal(y, w)
        return {"precision": self._fit_precision(y, w, pred)}

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """Marginal with the mean given: φ from today's conditional fit at ŷ = mean (the
        mean with φ given needs the optimiser: None)."""
        if pred is None and free == ("precision",):
            return self.fit(y, w, np.full(y.shape, float(given["mean"])))
        return None

    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray | None:
        """Marginal: y, log y, log(1 − y) (the sufficient statistics and the moment
        start). The conditional precision needs an optimiser."""
        if pred is not None:
            return None
        return np.stack([y, np.log(y), np.log1p(-y)])

    def fit_from_stats(self, stats: Any, conditional: bool) -> Params:
        return self._marginal(float(stats.mean[1]), float(stats.mean[2]),
                              float(stats.mean[0]), float(stats.var[0]))

    def _fit_precision(self, y: np.ndarray, w: np.ndarray | None, mu: np.ndarray) -> float:
        W = total_weight(y.size, w)
        # the part of the score that does not depend on φ, one pass
        t = np.log(y)
        t *= mu
        s = np.log1p(-y)
        s *= 1.0 - mu
        t += s
        S = wsum(t, w) / W
        nu = 1.0 - mu
        buf = t  # reused: the rows' ψ terms for each trial φ

        def score(u: float) -> float:
            """d(mean log-likelihood)/dφ at φ = eᵘ, two passes of ψ over the rows."""
            phi = math.exp(u)
            np.multiply(mu, phi, out=buf)
            special.digamma(buf, out=buf)
            np.multiply(buf, mu, out=buf)
            np.multiply(nu, phi, out=s)
            special.digamma(s, out=s)
            np.multiply(s, nu, out=s)
            np.add(buf, s, out=buf)
            return S - wsum(buf, w) / W + float(special.digamma(phi))

        # Brent on the score needs ψ only: scipy's ψ' (polygamma) costs ~15 ψ per row, so
        # Newton's fewer steps would cost more. Each row's density is an exponential family
        # in φ (statistic μ log y + (1 − μ) log(1 − y)), so the score decreases in φ and its
        # root is the unique maximum.
        r = y - mu
        var = wsum(r * r, w) / W
        if not var > 0.0:
            if np.any(r != 0.0):
                raise OutOfRange("the squared residuals underflow float64 (differences "
                                 "near 1e-154 or below)")
            raise FitError(f"every target equals its prediction, {_UNBOUNDED}")
        # moment start: Var y = μ(1 − μ)/(1 + φ)
        u0 = math.log(max(wmean(mu * nu, w) / var - 1.0, 1e-3))
        return math.exp(optimize.root_decreasing(
            score, u0, below="the beta precision has no finite maximum likelihood estimate",
            above=f"the targets are too close to their predictions, {_UNBOUNDED}",
            xtol=1e-13, rtol=4 * np.finfo(float).eps))

    def _fit_marginal(self, y: np.ndarray, w: np.ndarray | None) -> Params:
        m = wmean(y, w)
        r = y - m
        return self._marginal(wmean(np.log(y), w), wmean(np.log1p(-y), w), m,
                              wmean(r * r, w))

    def _marginal(self, ly: float, l1: float, m: float, var: float) -> Params:
        """Newton on (a, b) from the means of log y and log(1 − y), started at the
        method-of-moments estimate from the mean m and variance var of y."""
        if not var > 0.0:
            raise FitError(f"every target is the same, {_UNBOUNDED}")

        def loglik(a: float, b: float) -> float:
            return (a - 1.0) * ly + (b - 1.0) * l1 - float(special.betaln(a, b))

        def derivs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            a, b = x
            psi_ab = float(special.digamma(a + b))
            grad = np.array([ly - float(special.digamma(a)) + psi_ab,
                             l1 - float(special.digamma(b)) + psi_ab])
            t_ab = float(special.polygamma(1, a + b))
            hess = np.array([[t_ab - float(special.polygamma(1, a)), t_ab],
                             [t_ab, t_ab - float(special.polygamma(1, b))]])
            return grad, hess

        # method-of-moments start, then Newton on the concave log-likelihood in (a, b)
        phi = max(m * (1.0 - m) / var - 1.0, 1e-3)
        a, b = optimize.newton_maximise(lambda x: loglik(x[0], x[1]), derivs,
                                        np.array([m * phi, (1.0 - m) * phi]),
                                        inside=lambda x: x[0] > 0.0 and x[1] > 0.0)
        return {"mean": float(a / (a + b)), "precision": float(a + b)}

    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        phi = params["precision"]
        return _log_betainc(pred * phi, (1.0 - pred) * phi, x, upper=False)

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        phi = params["precision"]
        return _log_betainc(pred * phi, (1.0 - pred) * phi, x, upper=True)

    # diagnostics: its nll is not a consistent score of the mean (squared error is)
    calibration = True

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        phi = params["precision"]
        return f * (1.0 - f) / (1.0 + (phi if np.ndim(phi) else float(phi)))

    def closed_se(self, params: Params, W: float, conditional: bool) -> dict | None:
        """Marginal: the information in (a, b) = (mφ, (1 − m)φ) is W times the trigamma
        matrix [[ψ′(a) − ψ′(a+b), −ψ′(a+b)], [−ψ′(a+b), ψ′(b) − ψ′(a+b)]] (free of the
        data), carried to (m, φ) by the Jacobian [[φ, m], [−φ, 1 − m]] at the MLE.
        Conditional: none (the shared Hessian)."""
        if conditional:
            return None
        m, phi = params["mean"], params["precision"]
        a, b = m * phi, (1.0 - m) * phi
        t = special.polygamma(1, [a, b, a + b])
        info_ab = W * np.array([[t[0] - t[2], -t[2]], [-t[2], t[1] - t[2]]])
        jac = np.array([[phi, m], [-phi, 1.0 - m]])
        cov = np.linalg.inv(jac.T @ info_ab @ jac)
        return {"mean": math.sqrt(cov[0, 0]), "precision": math.sqrt(cov[1, 1])}

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        phi = params["precision"]
        return stats.beta(a=np.asarray(pred) * phi, b=(1.0 - np.asarray(pred)) * phi)

    # -- proper scores (SPEC §8.3)
    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """The closed form of `crps_forms.beta` (mean μ = ŷ, precision φ)."""
        return crps_forms.beta(y, pred, params["precision"])

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) = I⁻¹_q(μφ, (1 − μ)φ) (betaincinv)."""
        mu, phi = crps_forms.arr(pred), crps_forms.arr(params["precision"])
        return special.betaincinv(mu * phi, (1.0 - mu) * phi, q)


def _log_betainc(a: Any, b: Any, x: np.ndarray, upper: bool) -> np.ndarray:
    """log I_x(a, b) (upper: log(1 − I_x(a, b))), the regularised incomplete beta function.

    Where the value is near 1 it is log1p of minus the complement, which keeps the relative
    precision; below ~1e-308 it underflows to −∞ (beta is never discretised, so these
    serve as checks and for completeness, not for scoring).
    """
    a, b, x = np.broadcast_arrays(a, b, np.clip(x, 0.0, 1.0))
    first, other = (special.betaincc, special.betainc) if upper else (
        special.betainc, special.betaincc)
    p = first(a, b, x)
    with np.errstate(divide="ignore"):
        out = np.log(p)
        near = p > 0.999
        if near.any():
            out[near] = np.log1p(-other(a[near], b[near], x[near]))
    return out
