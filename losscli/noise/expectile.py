"""Asymmetric normal noise: the negative log-likelihood behind the expectile loss."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli import optimize
from losscli.errors import FitError
from losscli.noise.base import ContinuousFamily, Frameworks, Nesting, Params
from losscli.noise.sums import total_weight, wsum
from losscli.noise.support import REAL

LOG_HALF_SQRT_PI = math.log(0.5 * math.sqrt(math.pi))
LOG_2 = math.log(2.0)
# the marginal τ is searched on logit τ in [−LOGIT_END, LOGIT_END]
LOGIT_END = 20.0


def _valid(tau: Any) -> Any:
    """τ, NaN outside (0, 1): a numeric fit's step outside τ's space reads a likelihood
    that is not finite."""
    with np.errstate(invalid="ignore"):
        if np.ndim(tau) == 0:
            return tau if 0.0 < tau < 1.0 else math.nan
        return np.where((tau > 0.0) & (tau < 1.0), tau, np.nan)


def _halves(tau: Any, sigma: Any) -> tuple[Any, Any]:
    """The half-normal scales (a above ŷ, b below): exp(−r²/a²) above, exp(−r²/b²)
    below, a = σ/√τ, b = σ/√(1 − τ)."""
    tau = _valid(tau)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.divide(sigma, np.sqrt(tau)), np.divide(sigma, np.sqrt(1.0 - tau))


def asymmetric_square(r: Any, tau: Any) -> np.ndarray:
    """|τ − 1{r < 0}| r², the expectile loss."""
    r = np.asarray(r, dtype=np.float64)
    return np.where(r < 0.0, 1.0 - tau, tau) * np.square(r)


def _both(p: float, n: float) -> Params:
    """τ̂ and σ̂ from P = Σw(r⁺)²/W and N = Σw(r⁻)²/W.

    With a = σ/√τ and b = σ/√(1 − τ) the mean nll is ln(½√π) + ln(a + b) + P/a² + N/b²;
    its stationary point has a³/P = b³/N = 2(a + b), so τ/(1 − τ) = b²/a² = (N/P)^(2/3)
    and σ² = a²τ = 2(τP + (1 − τ)N)."""
    if not (p > 0.0 and n > 0.0):
        if p > 0.0 or n > 0.0:
            side = "below" if n == 0.0 else "above"
            raise FitError(
                f"no target lies {side} its prediction, so the likelihood keeps rising as "
                f"τ goes to {0 if n == 0.0 else 1} (a half-normal beyond the prediction): "
                "no maximum with 0 < τ < 1; fix τ with --fix expectile.tau=VALUE")
        raise FitError("every residual is 0, so the asymmetric normal scale σ is 0 and the "
                       "likelihood is unbounded")
    cp, cn = np.cbrt(p), np.cbrt(n)
    tau = cn * cn / (cn * cn + cp * cp)
    return {"tau": float(tau), "sigma": math.sqrt(2.0 * (tau * p + (1.0 - tau) * n))}


class _Sorted:
    """The targets sorted once, for the τ-expectile at any τ in O(log n).

    With v sorted (weights c), A_k = Σ_{j>k} c_j(v_j − v_k) and B_k = Σ_{j≤k} c_j(v_k − v_j)
    (A falls, B rises with k), the expectile m solves τΣc(v − m)⁺ = (1 − τ)Σc(m − v)⁺; it
    lies in [v_k, v_{k+1}] for the last k with B_k/(A_k + B_k) ≤ τ, where it is the
    weighted mean with weight τ above and 1 − τ below."""

    def __init__(self, y: np.ndarray, w: np.ndarray | None) -> None:
        order = np.argsort(y, kind="stable")
        v = y[order]
        c = np.ones(y.size) if w is None else np.asarray(w, dtype=np.float64)[order]
        keep = c > 0.0
        v, c = v[keep], c[keep]
        if v.size == 0 or v[0] == v[-1]:
            raise FitError("every target is equal, so the asymmetric normal scale σ is 0 "
                           "and the likelihood is unbounded")
        self.centre = float(v[v.size // 2])
        x = v - self.centre  # centred: the cumulative sums lose little
        self.x, self.c = x, c
        self.cw = np.cumsum(c)
        self.cx = np.cumsum(c * x)
        self.cxx = np.cumsum(c * x * x)
        W, S, SS = self.cw[-1], self.cx[-1], self.cxx[-1]
        self.W = float(W)
        below = x * self.cw - self.cx
        above = (S - self.cx) - x * (W - self.cw)
        np.maximum(below, 0.0, out=below)
        np.maximum(above, 0.0, out=above)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = below / (below + above)
        self.frac = np.maximum.accumulate(np.nan_to_num(frac, nan=1.0))
        self.SS = float(SS)

    def at(self, tau: float) -> tuple[float, float, float]:
        """(m − centre, P, N) at the τ-expectile m (P, N the mean squared parts)."""
        k = int(np.searchsorted(self.frac, tau, side="right")) - 1
        k = min(max(k, 0), self.x.size - 2)
        wb, sb, qb = self.cw[k], self.cx[k], self.cxx[k]
        wa, sa, qa = self.W - wb, self.cx[-1] - sb, self.SS - qb
        m = (tau * sa + (1.0 - tau) * sb) / (tau * wa + (1.0 - tau) * wb)
        p = max(qa - 2.0 * m * sa + m * m * wa, 0.0) / self.W
        n = max(qb - 2.0 * m * sb + m * m * wb, 0.0) / self.W
        return float(m), p, n


def weighted_expectile(y: np.ndarray, w: np.ndarray | None, tau: float) -> float:
    """The τ-expectile: the m with τΣw(y − m)⁺ = (1 − τ)Σw(m − y)⁺ (the weighted mean
    at τ = ½)."""
    s = _Sorted(np.asarray(y, dtype=np.float64), w)
    return s.at(tau)[0] + s.centre


class Expectile(ContinuousFamily):
    """y ~ asymmetric normal: q(y) = exp(−|τ − 1{r<0}| r²/σ²)/Z, r = y − ŷ,
    Z = ½√π σ(τ^(−½) + (1 − τ)^(−½)), ŷ the τ-expectile, 0 < τ < 1, σ > 0.

    Two half-normals glued at ŷ: exp(−r²/a²) above, exp(−r²/b²) below, a = σ/√τ,
    b = σ/√(1 − τ), Z = ½√π(a + b); P(Y < ŷ) = b/(a + b). Minimising the nll over ŷ with
    τ, σ fixed is minimising the expectile loss at level τ (Z does not depend on ŷ).
    Conditional: with P = Σw(r⁺)²/W, N = Σw(r⁻)²/W, τ̂ = N^(2/3)/(N^(2/3) + P^(2/3)),
    σ̂² = 2(τ̂P + (1 − τ̂)N) (closed form; σ̂² = 2Σw|τ − 1{r<0}|r²/W at a given τ).
    Marginal: given τ the location is the weighted τ-expectile and σ as above; τ by a 1-D
    profile (a grid on logit τ, then Brent). At τ = ½ it is gaussian with the same σ
    (exp(−r²/(2σ²))/(√(2π)σ)): an interior point, a regular χ²₁ LR test.
    Source: Aigner, Amemiya and Poirier (1976); Newey and Powell (1987).
    """

    name = "expectile"
    loss = "expectile loss (asymmetric squared error)"
    support = REAL
    pred_domain = REAL
    prediction = "τ-expectile"
    nuisance = ("tau", "sigma")
    marginal_params = ("expectile", "tau", "sigma")
    location = "expectile"
    param_domains = {"sigma": "positive", "expectile": "real", "tau": "unit"}
    closed_form = ("conditional",)
    applies_to = ("binary", "count", "integer", "proportion", "positive", "real")
    default_for = ()
    candidate = False  # compare-noise-models fits it only when named (SPEC §9.3)
    counting_newton_from_pilot = True
    nests = (Nesting("gaussian", "tau", 0.5, boundary=False),)
    spread = ("sigma", "scale")
    frameworks = Frameworks(
        pytorch=None,
        sklearn=None,
        # only recent XGBoost releases have the objective (3.3 on, per dmlc/xgboost
        # doc/parameter.rst); older ones reject it
        xgboost="reg:expectileerror(expectile_alpha=τ)",
        lightgbm=None,
        catboost="Expectile:alpha=τ",
    )

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        tau, sigma = _valid(params["tau"]), params["sigma"]
        with np.errstate(invalid="ignore", divide="ignore"):
            log_z = (LOG_HALF_SQRT_PI + np.log(sigma)
                     + np.log(1.0 / np.sqrt(tau) + 1.0 / np.sqrt(1.0 - tau)))
            ll = asymmetric_square(np.subtract(y, pred), tau)
            ll /= -np.square(sigma)
            ll -= log_z
        return ll

    # -- fits
    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        free = self.nuisance if pred is not None else self.marginal_params
        return self.fit_given_closed(y, w, pred, {}, free)

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """The MLE of `free` with `given` held, where a closed form or the 1-D profile
        serves: conditional with τ free and σ not given, or τ given (a float or per row);
        marginal with a scalar τ or σ given, or nothing. None (the shared optimiser) for
        τ alone free under a given σ (conditional), or a given per-row parameter in
        marginal mode."""
        y = np.asarray(y, dtype=np.float64)
        W = total_weight(y.size, w)
        if pred is None and "expectile" in given:  # a held location plays ŷ
            pred, free = given["expectile"], tuple(k for k in free if k != "expectile")
            given = {k: v for k, v in given.items() if k != "expectile"}
        if pred is None:
            return self._fit_marginal(y, w, given, free)
        r = np.subtract(y, pred)
        if "tau" in given:
            out: Params = {}
            if "sigma" in free:
                a = wsum(asymmetric_square(r, given["tau"]), w) / W
                out["sigma"] = self._sigma(a, "every residual is 0")
            return out
        if "sigma" in given:
            return None
        p = wsum(np.square(np.maximum(r, 0.0)), w) / W
        n = wsum(np.square(np.minimum(r, 0.0)), w) / W
        return _both(p, n)

    @staticmethod
    def _sigma(a: float, why: str) -> float:
        if not a > 0.0:
            raise FitError(f"{why}, so the asymmetric normal scale σ is 0 and the "
                           "likelihood is unbounded")
        return math.sqrt(2.0 * a)

    def _fit_marginal(self, y: np.ndarray, w: np.ndarray | None, given: Params,
                      free: tuple[str, ...]) -> Params | None:
        if any(np.ndim(v) for v in given.values()):
            return None
        s = _Sorted(y, w)
        sigma = given.get("sigma")
        if "tau" in given:
            tau = float(given["tau"])
        else:
            tau = self._profile_tau(s, None if sigma is None else float(sigma))
        m, _, _ = s.at(tau)
        loc = m + s.centre
        out: Params = {}
        if "expectile" in free:
            out["expectile"] = loc
        if "tau" in free:
            out["tau"] = tau
        if "sigma" in free:
            r = y - loc  # the sums again, directly about the location
            out["sigma"] = self._sigma(wsum(asymmetric_square(r, tau), w)
                                       / total_weight(y.size, w), "every target is equal")
        return out

    @staticmethod
    def _profile_tau(s: _Sorted, sigma: float | None) -> float:
        """τ̂ of the marginal fit: the profile nll over logit τ (σ profiled out, or held),
        the location the τ-expectile; a grid of 81 points, then bounded Brent between the
        best point's neighbours. A best point at either end of the grid: the likelihood
        keeps rising towards a half-normal from the smallest (largest) target."""

        def nll(t: float) -> float:
            tau = float(special.expit(t))
            _, p, n = s.at(tau)
            a = tau * p + (1.0 - tau) * n
            shape = math.log(1.0 / math.sqrt(tau) + 1.0 / math.sqrt(1.0 - tau))
            if sigma is None:
                return 0.5 * math.log(a) + shape if a > 0.0 else math.inf
            return a / (sigma * sigma) + shape

        grid = np.linspace(-LOGIT_END, LOGIT_END, 81)
        f = np.array([nll(t) for t in grid])
        k = int(np.nanargmin(f))
        if k in (0, grid.size - 1):
            raise FitError(
                f"the likelihood keeps rising as τ goes to {0 if k == 0 else 1} (a "
                f"half-normal from the {'smallest' if k == 0 else 'largest'} target fits "
                "better than any asymmetric normal): no maximum with 0 < τ < 1; fix τ with "
                "--fix expectile.tau=VALUE")
        t, _ = optimize.minimize_bounded(nll, grid[k - 1], grid[k + 1], xatol=1e-11)

        def slope(tau: float) -> float:
            """d nll/dτ: by the envelope theorem (the expectile minimises A over the
            location) dA/dτ = P − N, and d/dτ ln(τ^(−½) + (1 − τ)^(−½)) =
            ½((1 − τ)^(−3/2) − τ^(−3/2))/(τ^(−½) + (1 − τ)^(−½))."""
            _, p, n = s.at(tau)
            a = tau * p + (1.0 - tau) * n
            shape = 0.5 * ((1.0 - tau) ** -1.5 - tau ** -1.5) / (tau ** -0.5
                                                                 + (1.0 - tau) ** -0.5)
            return (0.5 * (p - n) / a if sigma is None else (p - n) / (sigma * sigma)) + shape

        # the root of the slope pins τ̂ to rounding, where the minimum of the flat nll
        # leaves it at about √ε
        lo, hi = float(special.expit(grid[k - 1])), float(special.expit(grid[k + 1]))
        if slope(lo) < 0.0 < slope(hi):
            return optimize.root(slope, lo, hi, xtol=1e-300, rtol=1e-15)
        return float(special.expit(t))

    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray | None:
        """Conditional: (r⁺)² and (r⁻)², whose means P and N give τ̂ and σ̂. The marginal
        expectile needs sorted data."""
        if pred is None:
            return None
        r = np.subtract(y, pred)
        return np.stack([np.square(np.maximum(r, 0.0)), np.square(np.minimum(r, 0.0))])

    def fit_from_stats(self, stats: Any, conditional: bool, given: Params | None = None
                       ) -> Params:
        """τ̂, σ̂ (or σ̂ alone at a given τ) from the means of `fit_stats`."""
        p, n = float(stats.mean[0]), float(stats.mean[1])
        if given and "tau" in given:
            tau = float(given["tau"])
            return {"sigma": self._sigma(tau * p + (1.0 - tau) * n, "every residual is 0")}
        return _both(p, n)

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        try:
            start = self.fit(y, w, pred)
        except FitError:
            start = {"expectile": weighted_expectile(y, w, 0.5)} if pred is None else {}
            start.update(tau=0.5, sigma=0.5)
        # the discretised likelihood is bounded; keep the start away from a zero scale
        start["sigma"] = max(start["sigma"], 0.05)
        return start

    # -- c.d.f.s, in log space
    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """ln(b/(a + b)) + ln erfc(|z|/b) below ŷ, ln(1 − a/(a + b)·erfc(z/a)) above
        (z = x − ŷ; erfc(u) = 2Φ(−u√2))."""
        return _log_tail(np.subtract(x, pred), params, lower=True)

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return _log_tail(np.subtract(x, pred), params, lower=False)

    def cdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return np.exp(self.logcdf(x, pred, params))

    def standardised(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray | None:
        """z = (y − ŷ)/σ: F(y) = G_τ(z), one G per fit (None where τ is given per row)."""
        if np.ndim(params["tau"]):
            return None
        return np.subtract(y, pred) / params["sigma"]

    def standard_quantiles(self, q: np.ndarray, params: Params) -> np.ndarray:
        return self.ppf(q, 0.0, {"tau": params["tau"], "sigma": 1.0})

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        """(a² − ab + b²)/2 − (a − b)²/π (E r = (a − b)/√π, E r² = (a² − ab + b²)/2)."""
        a, b = _halves(params["tau"], params["sigma"])
        v = 0.5 * (a * a - a * b + b * b) - np.square(a - b) / math.pi
        return np.broadcast_to(v, np.shape(f)).astype(np.float64)

    def ppf(self, q: Any, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) = ŷ − b·erfcinv(q/π_b) below π_b = b/(a + b), ŷ + a·erfcinv((1 − q)/π_a)
        above."""
        a, b = _halves(params["tau"], params["sigma"])
        pb = b / (a + b)
        q = np.asarray(q, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(q < pb, -b * special.erfcinv(q / pb),
                         a * special.erfcinv((1.0 - q) / (1.0 - pb)))
        return np.asarray(pred, dtype=np.float64) + z

    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """CRPS = E|X − y| − ½E|X − X′| in closed form. X − ŷ is −H_b with probability
        π_b = b/(a + b), else H_a, H a half-normal of scale c (c_a = a/√2, c_b = b/√2),
        E H = c√(2/π), and for z ≥ 0 E|H − z| = −c√(2/π) + z(4Φ(z/c) − 3) + 4cφ(z/c);
        E|H − H′| = 2c(√2 − 1)√(2/π). For z = y − ŷ < 0 the same with a, b swapped and
        z → −z (the reflected distribution)."""
        a, b = _halves(params["tau"], params["sigma"])
        z = np.subtract(y, pred)
        neg = z < 0.0
        ca = np.where(neg, b, a) / math.sqrt(2.0)  # the half on z's side
        cb = np.where(neg, a, b) / math.sqrt(2.0)
        pa = ca / (ca + cb)
        pb = 1.0 - pa
        z = np.abs(z)
        k = math.sqrt(2.0 / math.pi)
        u = z / ca
        near = -ca * k + z * (4.0 * special.ndtr(u) - 3.0) + 4.0 * ca * np.exp(
            -0.5 * u * u) / math.sqrt(2.0 * math.pi)
        e_abs = pb * (cb * k + z) + pa * near
        gini = 2.0 * (math.sqrt(2.0) - 1.0) * k * (pa * pa * ca + pb * pb * cb) \
            + 2.0 * pa * pb * (ca + cb) * k
        return e_abs - 0.5 * gini

    def to_scipy(self, pred: Any, params: Params) -> Any:
        """Two scipy half-normals glued at ŷ (scale b/√2 below with mass b/(a + b),
        a/√2 above): a test oracle built from scipy.stats.halfnorm."""
        a, b = _halves(params["tau"], params["sigma"])
        return AsymmetricNormal(pred, a, b)


def _log_tail(z: np.ndarray, params: Params, lower: bool) -> np.ndarray:
    """log F(ŷ + z) (lower) or log S(ŷ + z), each from the half on its own side:
    F = π_b·erfc(|z|/b) below 0 and S = π_a·erfc(z/a) above it."""
    a, b = _halves(params["tau"], params["sigma"])
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        log_ab = np.log(a + b)
        if not lower:  # the survival function is the c.d.f. of −Y with a and b swapped
            a, b, z = b, a, -z
        near = np.log(b) - log_ab + LOG_2 + special.log_ndtr(-math.sqrt(2.0) * np.abs(z) / b)
        far = np.log(a) - log_ab + LOG_2 + special.log_ndtr(-math.sqrt(2.0) * np.abs(z) / a)
        return np.where(z < 0.0, near, np.log1p(-np.exp(far)))


class AsymmetricNormal:
    """The asymmetric normal as two scipy half-normals: with mass π_b = b/(a + b) a
    reflected halfnorm(scale b/√2) below `loc`, else halfnorm(scale a/√2) above."""

    def __init__(self, loc: Any, a: Any, b: Any) -> None:
        from scipy import stats

        self.loc, self.pb = loc, np.divide(b, np.add(a, b))
        self.above = stats.halfnorm(scale=np.divide(a, math.sqrt(2.0)))
        self.below = stats.halfnorm(scale=np.divide(b, math.sqrt(2.0)))

    def logpdf(self, y: Any) -> np.ndarray:
        r = np.subtract(y, self.loc)
        with np.errstate(divide="ignore"):
            return np.where(r < 0.0, np.log(self.pb) + self.below.logpdf(-r),
                            np.log1p(-self.pb) + self.above.logpdf(r))

    def cdf(self, y: Any) -> np.ndarray:
        r = np.subtract(y, self.loc)
        return np.where(r < 0.0, self.pb * self.below.sf(-r),
                        self.pb + (1.0 - self.pb) * self.above.cdf(r))

    def sf(self, y: Any) -> np.ndarray:
        r = np.subtract(y, self.loc)
        return np.where(r < 0.0, 1.0 - self.pb * self.below.sf(-r),
                        (1.0 - self.pb) * self.above.sf(r))
