"""Flat-top Laplace noise: the negative log-likelihood behind the ε-insensitive loss."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losscli import optimize
from losscli.errors import FitError
from losscli.noise.base import Frameworks, Nesting, Params
from losscli.noise.gibbs import GibbsLocation
from losscli.noise.quantile import weighted_quantile
from losscli.noise.sums import total_weight

LOG_2 = math.log(2.0)


def _scale_given(s: Any, eps: Any, W: float) -> Any:
    """τ̂ given ε: the root τ > 0 of Wτ² − Sτ − Sε = 0 (d/dτ of S/τ + W ln(ε + τ)),
    S = Σw max(0, |r| − ε)."""
    return (s + np.sqrt(s * s + 4.0 * W * s * eps)) / (2.0 * W)


def _profile(s: Any, eps: Any, W: float) -> Any:
    """The nll ×1 with τ profiled out: S/τ̂ + W ln(2(ε + τ̂))."""
    tau = _scale_given(s, eps, W)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s > 0.0, s / tau, 0.0) + W * np.log(2.0 * (eps + tau))


class _MinS:
    """min over m of S(m, ε) = Σw[(y − ε − m)⁺ + (m − ε − y)⁺], in O(log² n) per ε from
    the sorted targets' prefix sums: S is convex and piecewise linear in m, its right
    derivative W(y ≤ m − ε) − W(y > m + ε) rises through 0 at the minimum, found by
    bisection."""

    def __init__(self, y: np.ndarray, w: np.ndarray | None) -> None:
        order = np.argsort(y, kind="stable")
        self.y = y[order]
        wy = np.ones(y.size) if w is None else np.asarray(w, dtype=np.float64)[order]
        self.cw = np.concatenate([[0.0], np.cumsum(wy)])
        self.cwy = np.concatenate([[0.0], np.cumsum(wy * self.y)])

    def s(self, m: float, eps: float) -> float:
        ys, cw, cwy = self.y, self.cw, self.cwy
        k = int(np.searchsorted(ys, m + eps, side="right"))
        j = int(np.searchsorted(ys, m - eps, side="left"))
        above = (cwy[-1] - cwy[k]) - (m + eps) * (cw[-1] - cw[k])
        below = (m - eps) * cw[j] - cwy[j]
        return max(above, 0.0) + max(below, 0.0)

    def __call__(self, eps: float) -> float:
        ys, cw = self.y, self.cw
        lo, hi = float(ys[0]) - eps, float(ys[-1]) + eps
        for _ in range(200):  # bisection of the sign change of the right derivative
            mid = 0.5 * (lo + hi)
            if not lo < mid < hi:
                break
            le = cw[int(np.searchsorted(ys, mid - eps, side="right"))]
            gt = cw[-1] - cw[int(np.searchsorted(ys, mid + eps, side="right"))]
            if le - gt >= 0.0:
                hi = mid
            else:
                lo = mid
        return min(self.s(lo, eps), self.s(hi, eps))


class EpsilonInsensitive(GibbsLocation):
    """y − ŷ ~ q(r) = exp(−max(0, |r| − ε)/τ)/(2ε + 2τ): uniform on [−ε, ε], exponential
    tails of scale τ beyond; ε ≥ 0, τ > 0 (the flat-top Laplace).

    The exponent is the ε-insensitive loss over τ; ŷ is the location (the midpoint of the
    flat top). Given ε, τ̂ solves Wτ² − Sτ − Sε = 0 (S = Σw max(0, |r| − ε)), so ε is
    found on the 1-D profile: the best of the sorted |r| (where S bends), refined by
    bounded Brent between its neighbours. Marginal: given ε, S is least at the weighted
    median of the 2n points y ∓ ε (its derivative in m counts the points above m − ε
    against those below m + ε), so the location is exact and ε again 1-D. ε = 0 is the
    Laplace with scale b = τ, on the boundary of ε's space (the LR test is ½χ²₀ + ½χ²₁).
    """

    name = "epsilon_insensitive"
    loss = "epsilon-insensitive loss"
    nuisance = ("epsilon", "scale")
    marginal_params = ("loc", "epsilon", "scale")
    param_domains = {"epsilon": "nonnegative", "scale": "positive", "loc": "real"}
    nests = (Nesting("laplace", "epsilon", 0.0),)
    spread = ("scale", "scale")
    frameworks = Frameworks(
        pytorch=None,
        sklearn="SVR(epsilon=ε)",
        xgboost=None,
        lightgbm=None,
    )

    def exponent(self, r: np.ndarray, params: Params) -> np.ndarray:
        ll = np.abs(r) - params["epsilon"]
        np.maximum(ll, 0.0, out=ll)
        ll /= -np.asarray(params["scale"], dtype=np.float64)
        return ll

    def log_norm(self, params: Params) -> Any:
        with np.errstate(invalid="ignore", divide="ignore"):
            return LOG_2 + np.log(np.add(params["epsilon"], params["scale"]))

    def knot(self, params: Params) -> float:
        return float(params["epsilon"])

    # -- fits: exact 1-D profiles (nothing for Newton steps to polish)
    def numeric_params(self, conditional: bool) -> tuple[str, ...]:
        return ()

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        y = np.asarray(y, dtype=np.float64)
        W = total_weight(y.size, w)
        if pred is not None:
            eps, s = self._eps_conditional(np.abs(y - pred), w, W)
            return {"epsilon": eps, "scale": self._tau(s, eps, W)}
        return self._fit_marginal(y, w, W)

    def _tau(self, s: float, eps: float, W: float) -> float:
        tau = float(_scale_given(s, eps, W))
        if not tau > 0.0:
            raise FitError("every residual lies within ε of 0, so the scale τ of the "
                           "tails is 0 (the uniform limit): no maximum with τ > 0; fix "
                           "ε with --fix epsilon_insensitive.epsilon=VALUE")
        return tau

    @staticmethod
    def _sorted(a: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        order = np.argsort(a, kind="stable")
        a = a[order]
        wa = np.ones(a.size) if w is None else np.asarray(w, dtype=np.float64)[order]
        # suffix sums: the weight and Σw|r| of the rows from k on
        sw = np.concatenate([np.cumsum(wa[::-1])[::-1], [0.0]])
        swa = np.concatenate([np.cumsum((wa * a)[::-1])[::-1], [0.0]])
        return a, sw, swa

    def _eps_conditional(self, a: np.ndarray, w: np.ndarray | None, W: float
                         ) -> tuple[float, float]:
        """(ε̂, S(ε̂)) from the absolute residuals a."""
        a, sw, swa = self._sorted(a, w)

        def s_at(eps: Any) -> Any:
            k = np.searchsorted(a, eps, side="right")
            return np.maximum(swa[k] - eps * sw[k], 0.0)

        knots = np.concatenate([[0.0], np.unique(a[a > 0.0])])
        if knots.size < 2:
            raise FitError("every residual is 0, so the scale τ is 0 and the likelihood "
                           "is unbounded")
        f = _profile(s_at(knots), knots, W)
        f[-1] = np.inf  # ε = max|r|: S = 0, the uniform limit τ = 0 (not in the space)
        j = int(np.argmin(f))
        lo, hi = knots[max(j - 1, 0)], knots[min(j + 1, knots.size - 1)]
        eps, fe = optimize.minimize_bounded(lambda e: float(_profile(s_at(e), e, W)),
                                            lo, hi, xatol=1e-12 * max(hi, 1e-300))
        if not fe < f[j]:
            eps = float(knots[j])
        return float(eps), float(s_at(eps))

    def _fit_marginal(self, y: np.ndarray, w: np.ndarray | None, W: float) -> Params:
        """ε on the profile over ε of min_m S(m, ε): a grid of ε on the quantiles of
        |y − median|, then bounded Brent around the best; the location at ε̂ is the
        weighted median of the 2n points y ∓ ε (the midpoint of S's minimisers)."""
        centre = weighted_quantile(y, w, 0.5)
        min_s = _MinS(y - centre, w)  # centred: the prefix sums lose little
        spread = np.abs(y - centre)
        if not spread.max() > 0.0:
            raise FitError("every target is equal, so the scale τ is 0 and the likelihood "
                           "is unbounded")

        def f(eps: float) -> float:
            s = min_s(eps)
            return float(_profile(s, eps, W)) if s > 0.0 else math.inf

        q = np.quantile(spread, np.linspace(0.0, 1.0, 65)[1:-1])
        grid = np.concatenate([[0.0], np.unique(q)])
        vals = np.array([f(float(e)) for e in grid])
        j = int(np.argmin(vals))
        lo, hi = float(grid[max(j - 1, 0)]), float(grid[min(j + 1, grid.size - 1)])
        eps, fe = optimize.minimize_bounded(f, lo, hi, xatol=1e-12 * max(hi, 1e-300))
        if not fe < vals[j]:
            eps = float(grid[j])
        ww = None if w is None else np.concatenate([w, w])
        m = weighted_quantile(np.concatenate([y - eps, y + eps]), ww, 0.5)
        r = np.maximum(np.abs(y - m) - eps, 0.0)
        s = float(np.sum(r) if w is None else np.dot(w, r))
        return {"loc": m, "epsilon": float(eps), "scale": self._tau(s, eps, W)}

    def fit_warnings(self, params: Params) -> list[str]:
        eps = params.get("epsilon", 1.0)
        if np.ndim(eps) == 0 and eps == 0.0:
            return ["the fit reached the Laplace limit (epsilon = 0)"]
        return []

    # -- c.d.f., closed form
    def log_tail(self, z: np.ndarray, params: Params) -> np.ndarray:
        """log P(R > z): τe^{−(z − ε)/τ}/(2ε + 2τ) beyond ε, (ε − z + τ)/(2ε + 2τ) on
        [0, ε), below 0 by symmetry."""
        eps, tau = params["epsilon"], params["scale"]
        z = np.asarray(z, dtype=np.float64)
        a = np.abs(z)
        with np.errstate(all="ignore"):
            lz = LOG_2 + np.log(np.add(eps, tau))
            up = np.where(a >= eps, np.log(tau) - (a - eps) / tau - lz,
                          np.log(eps - a + tau) - lz)
            return np.where(z < 0.0, np.log1p(-np.exp(up)), up)

    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """CRPS = E|X − y| − ½E|X − X′| in closed form, a = |y − ŷ|, Z = 2ε + 2τ:
        E|X − y| = a + 2T(a), T(a) = ∫_a^∞ P(R > t) dt = τ²e^{−(a − ε)/τ}/Z beyond ε,
        ((ε − a)τ + (ε − a)²/2 + τ²)/Z inside; E|X − X′| = 4(T(0) − I₂),
        I₂ = ∫_0^∞ P(R > t)² dt = (τ³/2 + ((ε + τ)³ − τ³)/3)/Z². At ε = 0 it is laplace's."""
        eps, tau = params["epsilon"], params["scale"]
        a = np.abs(np.subtract(y, pred))
        z = 2.0 * np.add(eps, tau)
        d = np.maximum(eps - a, 0.0)
        with np.errstate(over="ignore"):
            t = np.where(a >= eps, tau * tau * np.exp(-np.maximum(a - eps, 0.0) / tau),
                         d * tau + 0.5 * d * d + tau * tau) / z
        t0 = (eps * tau + 0.5 * eps * eps + tau * tau) / z
        i2 = (0.5 * tau ** 3 + ((eps + tau) ** 3 - tau ** 3) / 3.0) / (z * z)
        return a + 2.0 * t - 2.0 * (t0 - i2)

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q): with t = min(q, 1 − q) the tail mass beyond a, a = ε − τ ln(t(2ε + 2τ)/τ)
        in the tails, ε + τ − t(2ε + 2τ) on the flat top."""
        eps, tau = params["epsilon"], params["scale"]
        t = min(q, 1.0 - q)
        z2 = 2.0 * np.add(eps, tau)
        with np.errstate(all="ignore"):
            a = np.where(t * z2 <= tau, eps - tau * np.log(t * z2 / tau), eps + tau - t * z2)
        return np.asarray(pred, dtype=np.float64) + (-a if q < 0.5 else a)

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        """E r² = (2ε³/3 + 2τ(ε² + 2ετ + 2τ²))/(2ε + 2τ)."""
        eps, tau = params["epsilon"], params["scale"]
        v = (2.0 * eps ** 3 / 3.0 + 2.0 * tau * (eps * eps + 2.0 * eps * tau + 2.0 * tau * tau)
             ) / (2.0 * (eps + tau))
        return np.broadcast_to(v, np.shape(f)).astype(np.float64)
