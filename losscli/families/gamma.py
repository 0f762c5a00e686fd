"""Gamma noise: the negative log-likelihood behind the Gamma deviance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.errors import FitError
from losscli.families.base import (
    POSITIVE,
    ContinuousFamily,
    Frameworks,
    Params,
    total_weight,
    wmean,
    wsum,
)

# below this, gammainc / gammaincc are recomputed in log space (they underflow to 0 near 1e-308)
_TINY = 1e-300
_MAX_TERMS = 100_000
# above this shape the unit-interval probabilities of the discretised gamma lose their
# digits (and the tail series need ~√shape terms): such fits are refused, not ground out
MAX_COUNTING_SHAPE = 1e10
# above this, log P is computed as log1p(−Q) (and log Q as log1p(−P)): log of a value
# within 1e-3 of 1 keeps at least 13 digits, and only the few tail rows pay the second call
_NEAR_ONE = 0.999


class Gamma(ContinuousFamily):
    """y ~ Gamma(shape k, mean μ), rate k/μ; μ = ŷ (the mean), y > 0.

    log q = k log k − k log μ − log Γ(k) + (k − 1) log y − k y / μ; Var y = μ² / k.
    Conditional MLE of k: the root of log k − ψ(k) = D, D = Σ w [r − log(1 + r)] / W with
    r = y/ŷ − 1 (computed once; Minka's closed-form start, then Newton on log k).
    Marginal: μ = Σ w y / W exactly, then k from the same equation.
    Minimising it over μ with k fixed is minimising the Gamma deviance 2[log(μ/y) + y/μ − 1].
    """

    name = "gamma"
    loss = "Gamma deviance"
    support = POSITIVE
    pred_domain = POSITIVE
    prediction = "mean"
    nuisance = ("shape",)
    marginal_params = ("mean", "shape")
    location = "mean"
    param_domains = {"mean": "positive", "shape": "positive"}
    closed_form = ("marginal", "conditional")
    applies_to = ("count", "positive")
    deviance_support = POSITIVE  # the deviance needs y > 0 (and ŷ > 0)
    frameworks = Frameworks(
        pytorch=None,
        sklearn="HistGradientBoostingRegressor(loss='gamma')",
        xgboost="reg:gamma",
        lightgbm="gamma",
    )

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        k = params["shape"]
        out = np.log(y)
        out *= k - 1.0
        t = y / pred
        t *= k
        out -= t
        if np.ndim(pred):
            np.log(pred, out=t)
            t *= k
            out -= t
        else:
            out -= k * math.log(pred)
        out += k * math.log(k) - special.gammaln(k)
        return out

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        out: Params = {}
        if pred is None:
            pred = out["mean"] = wmean(y, w)
        # r − log(1 + r) with r = (y − μ)/μ keeps its precision when y ≈ μ, where
        # y/μ − log(y/μ) − 1 would cancel
        r = y - pred
        r /= pred
        d = np.log1p(r)
        np.subtract(r, d, out=d)
        D = wsum(d, w) / total_weight(y.size, w)
        if not D > 0.0:
            raise FitError("every target equals its predicted mean, so the gamma shape k is "
                           "infinite and the likelihood is unbounded")
        out["shape"] = solve_shape(D)
        return out

    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray:
        """Marginal: y and log y (μ = mean y, D = log μ − mean log y); conditional:
        r − log(1 + r) with r = (y − ŷ)/ŷ (D is its mean, exact when y ≈ ŷ)."""
        if pred is None:
            return np.stack([y, np.log(y)])
        r = y - pred
        r /= pred
        d = np.log1p(r)
        np.subtract(r, d, out=d)
        return d[None, :]

    def fit_from_stats(self, stats: Any, conditional: bool) -> Params:
        out: Params = {}
        if conditional:
            D = float(stats.mean[0])
        else:
            mean = out["mean"] = float(stats.mean[0])
            D = math.log(mean) - float(stats.mean[1])
        if not D > 0.0:
            raise FitError("every target equals its predicted mean, so the gamma shape k is "
                           "infinite and the likelihood is unbounded")
        out["shape"] = solve_shape(D)
        return out

    @staticmethod
    def deviance(y: np.ndarray, mu: Any) -> np.ndarray:
        """The gamma unit deviance 2 [log(μ/y) + y/μ − 1]."""
        return 2.0 * (np.log(mu / y) + y / mu - 1.0)

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        # y = 0 is scored on [0, ½]: its density fit needs y > 0, so start from y ≥ ½
        ys = np.maximum(y, 0.5)
        try:
            start = self.fit(ys, w, pred)
        except FitError:
            # every y equals its prediction: start where the sd is the unit interval's, 1/√12
            start = {} if pred is not None else {"mean": wmean(ys, w)}
            mu = pred if pred is not None else start["mean"]
            start["shape"] = max(12.0 * wmean(np.broadcast_to(mu * mu, ys.shape), w), 1.0)
        if start["shape"] > MAX_COUNTING_SHAPE / 100.0:
            raise FitError(
                f"the shape would be about {start['shape']:.3g}: the incomplete gamma "
                "function cannot resolve unit intervals of a distribution that narrow "
                "relative to its mean (targets far from 0 with a small spread)")
        return start

    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        k = params["shape"]
        if k > MAX_COUNTING_SHAPE:  # beyond resolution: not finite, the optimiser backs off
            return np.full(np.broadcast_shapes(np.shape(x), np.shape(pred)), np.nan)
        return log_gammainc(k, np.maximum(x, 0.0) * (k / pred))

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        k = params["shape"]
        if k > MAX_COUNTING_SHAPE:
            return np.full(np.broadcast_shapes(np.shape(x), np.shape(pred)), np.nan)
        return log_gammaincc(k, np.maximum(x, 0.0) * (k / pred))

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        k = params["shape"]
        return stats.gamma(a=k, scale=np.asarray(pred) / k)


# ------------------------------------------------------------------ the shape equation


def _shape_gap(k: float) -> tuple[float, float]:
    """g(k) = log k − ψ(k) and dg/d(log k) = 1 − k ψ'(k).

    For large k both are differences of nearly equal numbers, so there the asymptotic
    series of ψ and ψ' (Abramowitz & Stegun 6.3.18, 6.4.12) is used instead.
    """
    if k > 50.0:
        u = 1.0 / k
        u2 = u * u
        g = u * (0.5 + u * (1 / 12 + u2 * (-1 / 120 + u2 * (1 / 252 + u2 * (-1 / 240)))))
        dg = -u * (0.5 + u * (1 / 6 + u2 * (-1 / 30 + u2 * (1 / 42 + u2 * (-1 / 30)))))
        return g, dg
    return math.log(k) - float(special.digamma(k)), 1.0 - k * float(special.polygamma(1, k))


def solve_shape(D: float) -> float:
    """The root k of log k − ψ(k) = D > 0 (the gamma shape MLE).

    Starts from Minka's approximation (2002, "Estimating a Gamma distribution"), within
    1.5 % of the root, then Newton on log k; g is convex and decreasing in log k, so
    Newton converges from any start.
    """
    k = (3.0 - D + math.sqrt((D - 3.0) ** 2 + 24.0 * D)) / (12.0 * D)
    u = math.log(k)
    for _ in range(100):
        g, dg = _shape_gap(k)
        step = (g - D) / dg
        u -= step
        k = math.exp(u)
        if abs(step) < 1e-14:
            break
    if not (math.isfinite(k) and k > 0.0):
        raise FitError(f"the gamma shape equation has no finite root (D = {D!r})")
    return k


# ------------------------------------------------------------------ incomplete gamma, in logs


def _near_one(out: np.ndarray, mask: np.ndarray, other, a: float, x: np.ndarray) -> None:
    """Where P (or Q) is near 1, log(1 − Q) keeps the relative precision log P loses."""
    if mask.any():
        out[mask] = np.log1p(-other(a, x[mask]))


def log_gammainc(a: float, x: np.ndarray) -> np.ndarray:
    """log P(a, x), the regularised lower incomplete gamma function, for x ≥ 0.

    scipy's gammainc has full relative precision until it underflows near 1e-308; below
    _TINY the power series P = xᵃ e⁻ˣ / Γ(a + 1) · Σₙ xⁿ / ((a + 1)⋯(a + n)) is summed
    with the prefactor in logs (there x < a, so the series converges). Near 1: log1p(−Q).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        return log_gammainc(a, x[None])[0]
    p = special.gammainc(a, x)
    with np.errstate(divide="ignore"):
        out = np.log(p)
    _near_one(out, p > _NEAR_ONE, special.gammaincc, a, x)
    tiny = (p < _TINY) & (x > 0.0)
    if tiny.any():
        xs = x[tiny]
        term = np.ones_like(xs)
        total = np.ones_like(xs)
        for j in range(1, _MAX_TERMS):
            term *= xs / (a + j)
            total += term
            if np.all(term < 1e-17 * total):
                break
        out[tiny] = a * np.log(xs) - xs - special.gammaln(a + 1.0) + np.log(total)
    return out


def log_gammaincc(a: float, x: np.ndarray) -> np.ndarray:
    """log Q(a, x) = log(1 − P(a, x)), for x ≥ 0.

    Below _TINY (there x > a + 1) from the continued fraction
    Q = xᵃ e⁻ˣ / Γ(a) · 1/(x + 1 − a − 1(1 − a)/(x + 3 − a − 2(2 − a)/(x + 5 − a − …))),
    evaluated by the modified Lentz method (Numerical Recipes §6.2) with the prefactor in
    logs. Near 1: log1p(−P).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        return log_gammaincc(a, x[None])[0]
    # gammainc costs a third of gammaincc: take log1p(−P) wherever Q ≥ 1 − _NEAR_ONE (there
    # it keeps 13 digits) and call gammaincc only for the upper-tail rows
    p = special.gammainc(a, x)
    with np.errstate(divide="ignore"):
        out = np.log1p(-p)
    tail = p > _NEAR_ONE
    q = np.ones_like(x)
    if tail.any():
        q_tail = special.gammaincc(a, x[tail])
        q[tail] = q_tail
        with np.errstate(divide="ignore"):
            out[tail] = np.log(q_tail)
    tiny = q < _TINY
    if tiny.any():
        xs = x[tiny]
        fpmin = 1e-300
        b = xs + 1.0 - a
        c = np.full_like(xs, 1.0 / fpmin)
        d = 1.0 / b
        h = d.copy()
        for i in range(1, _MAX_TERMS):
            an = -i * (i - a)
            b += 2.0
            d = an * d + b
            d[np.abs(d) < fpmin] = fpmin
            c = b + an / c
            c[np.abs(c) < fpmin] = fpmin
            d = 1.0 / d
            delta = d * c
            h *= delta
            if np.all(np.abs(delta - 1.0) < 1e-15):
                break
        out[tiny] = a * np.log(xs) - xs - special.gammaln(a) + np.log(h)
    return out
