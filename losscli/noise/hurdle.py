"""Hurdle families on semicontinuous targets (SPEC §9.2): a point mass π at 0 and, for
y > 0, (1 − π) times a gamma or log-normal density.

    log q(0) = log π,    log q(y) = log(1 − π) + log f₊(y | ŷ/(1 − π), φ)   (y > 0)

ŷ is the overall mean E[Y] (hurdle_gamma: f₊ has mean ŷ/(1 − π)) or, for
hurdle_lognormal, ŷ/(1 − π) is the log-normal's median. They are scored on the
atom-at-zero measure (counting at 0, Lebesgue above).

- conditional: `pi` and the positive part's spread (`shape`, `sigma`) by joint ML; π
  also moves the positive part's location, so π̂ is the share of zeros only when the
  predictions make it so;
- marginal: the likelihood factorises, so `pi` is the (weighted) share of zeros and the
  positive part's parameters (`mean`, `shape` or `median`, `sigma`) are its own MLE on the
  positive rows; ŷ = (1 − π)·mean (or median).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from losscli.errors import FitError
from losscli.noise.base import Family, Frameworks, Params
from losscli.noise.censored import numeric_fit, split_rows
from losscli.noise.gamma import Gamma
from losscli.noise.lognormal import LogNormal
from losscli.noise.measures import ATOM_AT_ZERO
from losscli.noise.sums import total_weight, wsum
from losscli.noise.support import NONNEGATIVE, POSITIVE

NO_FRAMEWORK = Frameworks(pytorch=None, sklearn=None, xgboost=None, lightgbm=None)


class Hurdle(Family):
    """P(0) = π; for y > 0, (1 − π) times `positive` at location ŷ/(1 − π)."""

    positive: ClassVar[Any]  # the family of the positive part (gamma, lognormal)
    spread_name: ClassVar[str]  # its spread parameter

    support = NONNEGATIVE
    pred_domain = POSITIVE
    discrete = False
    measure = ATOM_AT_ZERO
    zero_mass = True
    frameworks = NO_FRAMEWORK
    applies_to = ("semicontinuous",)
    precise_fit = True  # the joint fit ends with Newton steps; the marginal one is exact
    pit_method = "nonrandomized"  # spread over [0, π] at a zero, u = F(y) above
    decomposition = "squared_error"

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        pi = params["pi"]
        y = np.asarray(y, dtype=np.float64)
        zero = y <= 0.0
        with np.errstate(divide="ignore"):
            log_pi = np.log(pi)
            log_rest = np.log1p(-np.asarray(pi, dtype=np.float64))
        loc = np.asarray(pred, dtype=np.float64) / (1.0 - np.asarray(pi, dtype=np.float64))
        safe = np.where(zero, 1.0, y)  # y = 0 never reaches the density
        with np.errstate(divide="ignore", invalid="ignore"):
            dens = self.positive.loglik(safe, loc, self._positive_params(params))
        out = np.where(zero, log_pi, dens + log_rest)
        return out

    def _positive_params(self, params: Params) -> Params:
        return {self.spread_name: params[self.spread_name]}

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        """Marginal: π the share of zeros, the positive part's MLE on y > 0 (exact).
        Conditional: π and the spread by joint ML (the shared optimiser, then Newton
        steps), started from the share of zeros and the positive part's fit there."""
        y = np.asarray(y, dtype=np.float64)
        pos = y > 0.0
        W = total_weight(y.size, w)
        pi = 1.0 - (np.count_nonzero(pos) if w is None else float(w[pos].sum())) / W
        if not pos.any():
            raise FitError("every target is 0: the positive part has no rows to fit")
        wp = None if w is None else w[pos]
        if pred is None:
            return {"pi": pi, **self.positive.fit(y[pos], wp)}
        return numeric_fit(self, self._total_of, self.fit_given_start, y, w, pred,
                           self.nuisance)

    def _total_of(self, y: np.ndarray, w: np.ndarray | None, pred: Any):
        """Σ w log q of the rows as a function of the (scalar) parameters, split at 0
        once: W₀ log π + W₊ log(1 − π) + Σ_{y>0} w log f₊(y | ŷ/(1 − π))."""
        (wz, pz, nz), (yp, wp, pp) = split_rows(y, w, pred)
        w0 = wz if pz is None else (float(nz) if wz is None else float(np.sum(wz)))
        wpos = float(yp.size) if wp is None else float(wp.sum())

        def total(params: Params) -> float:
            pi = params["pi"]
            if not 0.0 <= pi < 1.0:
                return -math.inf
            p = pred if pred is not None else self.marginal_pred(params)
            loc = (pp if pp is not None else p) / (1.0 - pi)
            with np.errstate(all="ignore"):
                out = wsum(self.positive.loglik(yp, loc, self._positive_params(params)), wp)
                out += wpos * math.log1p(-pi)
                if w0 > 0.0:
                    out += w0 * math.log(pi) if pi > 0.0 else -math.inf
            return out

        return total

    def fit_given_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any) -> Params:
        """π the share of zeros (kept inside (0, 1)), the positive part's fit with its
        location ŷ/(1 − π) (marginal: its own)."""
        y = np.asarray(y, dtype=np.float64)
        pos = y > 0.0
        W = total_weight(y.size, w)
        pi = 1.0 - (np.count_nonzero(pos) if w is None else float(w[pos].sum())) / W
        pi = min(max(pi, 1e-3), 1.0 - 1e-3)
        wp = None if w is None else w[pos]
        if pred is None:
            return {"pi": pi, **self.positive.fit(y[pos], wp)}
        p = pred[pos] / (1.0 - pi) if np.ndim(pred) else pred / (1.0 - pi)
        return {"pi": pi, **self.positive.fit(y[pos], wp, p)}

    def marginal_pred(self, params: Params) -> Any:
        """ŷ = (1 − π) times the positive part's location."""
        return (1.0 - params["pi"]) * params[self.location]

    def zero_probability(self, pred: Any, params: Params) -> np.ndarray:
        return np.broadcast_to(np.asarray(params["pi"], dtype=np.float64),
                               np.shape(pred)).copy()

    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log F(x) = log(π + (1 − π) G(x)) for x ≥ 0 (G the positive part's c.d.f.),
        −∞ below 0."""
        pi = np.asarray(params["pi"], dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        loc = np.asarray(pred, dtype=np.float64) / (1.0 - pi)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.exp(self.positive.logcdf(np.where(x > 0.0, x, 1.0), loc,
                                            self._positive_params(params)))
            g = np.where(x > 0.0, g, 0.0)
            return np.where(x < 0.0, -math.inf, np.log(pi + (1.0 - pi) * g))

    def pit_interval(self, y: np.ndarray, pred: Any, params: Params
                     ) -> tuple[np.ndarray, np.ndarray]:
        """[0, π] at a zero; u = F(y) above."""
        r = np.exp(self.logcdf(y, pred, params))
        return np.where(np.asarray(y) <= 0.0, 0.0, r), r

    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """CRPS of F = π·δ₀ + (1 − π)G, G the positive part at location ŷ/(1 − π):
        with E|X − y| = πy + (1 − π)E_G|X − y| and ½E|X − X′| = π(1 − π)E_G X
        + (1 − π)²·½E_G|X − X′|, and CRPS(G, 0) = E_G X − ½E_G|X − X′| (X ≥ 0),

            CRPS(F, y) = πy + (1 − π)CRPS(G, y) − π(1 − π)CRPS(G, 0)   (y > 0),

        and at y = 0 its value (1 − π)²CRPS(G, 0) = ∫₀^∞(1 − F)² directly (no cancellation
        when π is near 1). CRPS(G, ·) is the positive family's closed form."""
        pi = np.asarray(params["pi"], dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        loc = np.asarray(pred, dtype=np.float64) / (1.0 - pi)
        pp = self._positive_params(params)
        pos = y > 0.0
        at_y = self.positive.crps(np.where(pos, y, 0.0), loc, pp)
        at_0 = self.positive.crps(np.zeros(np.shape(at_y)), loc, pp)
        rest = 1.0 - pi
        return np.where(pos, pi * y + rest * at_y - pi * rest * at_0, rest * rest * at_0)


    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q): 0 for q ≤ π, else the positive part's quantile at (q − π)/(1 − π)."""
        pi = np.asarray(params["pi"], dtype=np.float64)
        loc = np.asarray(pred, dtype=np.float64) / (1.0 - pi)
        with np.errstate(divide="ignore", invalid="ignore"):
            qq = np.clip((q - pi) / (1.0 - pi), 0.0, 1.0)
            x = self.positive.ppf(qq, loc, self._positive_params(params))
        return np.where(q <= pi, 0.0, x)

    def to_scipy(self, pred: Any, params: Params) -> Any:
        """A test oracle: log π at 0, log(1 − π) plus scipy.stats' log-density of the
        positive part (at location ŷ/(1 − π)) above."""
        return _HurdleOracle(self.positive.to_scipy(
            np.asarray(pred, dtype=np.float64) / (1.0 - params["pi"]),
            self._positive_params(params)), params["pi"])

    def forecast(self, y: np.ndarray, pred: Any) -> tuple[np.ndarray, np.ndarray]:
        return np.broadcast_to(np.asarray(pred, dtype=np.float64), np.shape(y)), y


class HurdleGamma(Hurdle):
    """P(0) = π; y > 0: (1 − π)·Gamma(mean ŷ/(1 − π), shape k); ŷ = E[Y]."""

    name = "hurdle_gamma"
    loss = "hurdle gamma NLL"
    positive = Gamma()
    spread_name = "shape"
    prediction = "mean"
    nuisance = ("pi", "shape")
    marginal_params = ("pi", "mean", "shape")
    location = "mean"
    param_domains = {"pi": "unit", "mean": "positive", "shape": "positive"}
    spread = ("shape", "inverse")


class HurdleLogNormal(Hurdle):
    """P(0) = π; y > 0: (1 − π)·LogNormal(median ŷ/(1 − π), σ)."""

    name = "hurdle_lognormal"
    loss = "hurdle log-normal NLL"
    positive = LogNormal()
    spread_name = "sigma"
    prediction = "median"
    nuisance = ("pi", "sigma")
    marginal_params = ("pi", "median", "sigma")
    location = "median"
    param_domains = {"pi": "unit", "median": "positive", "sigma": "positive"}
    spread = ("sigma", "scale")


class _HurdleOracle:
    """scipy.stats' positive part with a mass π at 0 (`logpdf` on the atom-at-zero
    measure)."""

    def __init__(self, positive: Any, pi: Any) -> None:
        self.positive, self.pi = positive, pi

    def logpdf(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            dens = np.log1p(-np.asarray(self.pi)) + self.positive.logpdf(np.where(y > 0, y, 1.0))
            return np.where(y > 0, dens, np.log(self.pi))
