"""Generalised normal (Subbotin) noise: the negative log-likelihood behind the Lq loss |r|^q."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from scipy import special

from losscli import optimize
from losscli.errors import FitError
from losscli.noise.base import ContinuousFamily, Frameworks, Nesting, Params
from losscli.noise.laplace import weighted_median
from losscli.noise.sums import total_weight, wsum
from losscli.noise.support import REAL

LOG_2 = math.log(2.0)
LOG_HALF = -LOG_2
# the power is searched in [POWER_MIN, POWER_MAX]: below, the density is a spike at the
# location; above, it is a uniform within a hair
POWER_MIN, POWER_MAX = 0.1, 50.0
# beyond this x the regularised upper incomplete gamma Q(a, x) is taken from its
# asymptotic series in log space (it underflows float64 near x = 745)
ASYMPTOTIC_X = 200.0


def log_upper_gamma(a: Any, x: np.ndarray) -> np.ndarray:
    """log Q(a, x), the regularised upper incomplete gamma function, for x ≥ 0: log of
    scipy's gammaincc below ASYMPTOTIC_X; beyond it the asymptotic series
    Q = x^(a−1) e^(−x)/Γ(a) · Σₖ (a − 1)⋯(a − k)/xᵏ (8 terms; the next is below 1e-16
    relative for a ≤ 11, i.e. q ≥ 0.1)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.broadcast_to(np.asarray(a, dtype=np.float64), x.shape) if np.ndim(a) else a
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.log(special.gammaincc(a, x))
        far = x > ASYMPTOTIC_X  # few rows: the series only there
        if far.any():
            xs = x[far]
            af = a[far] if np.ndim(a) else a
            term = np.ones_like(xs)
            series = np.ones_like(xs)
            for k in range(1, 9):
                term = term * (af - k) / xs
                series += term
            out[far] = (af - 1.0) * np.log(xs) - xs - special.gammaln(af) + np.log(series)
    return out


def _profile_nll(log_abs: np.ndarray, w: np.ndarray | None, W: float, q: float) -> float:
    """The mean nll at power q with σ̂(q) = (q M_q)^(1/q), M_q = Σw|r|^q/W:
    −ln q + ln 2 + ln Γ(1/q) + ln σ̂ + 1/q. |r|^q = exp(q ln|r|), scaled by the largest
    |r| so that large q does not overflow."""
    top = float(np.max(log_abs))
    t = np.exp(q * (log_abs - top))
    m = wsum(t, w) / W
    if not m > 0.0:
        return math.inf
    log_sigma = (math.log(q) + math.log(m)) / q + top
    return -math.log(q) + LOG_2 + float(special.gammaln(1.0 / q)) + log_sigma + 1.0 / q


class GeneralizedNormal(ContinuousFamily):
    """y ~ generalised normal (Subbotin): q(y) = q/(2σΓ(1/q)) · exp(−(|y − ŷ|/σ)^q),
    ŷ the location, q > 0 the power, σ > 0 the scale (scipy gennorm(beta=q, scale=σ)).

    log q = ln q − ln 2 − ln σ − ln Γ(1/q) − (|r|/σ)^q. Minimising it over ŷ with q, σ
    fixed is minimising the Lq loss Σ|r|^q (CatBoost `Lq`). Given q, σ̂^q = q Σw|r|^q/W
    (closed form); q by a 1-D profile (a grid on ln q in [0.1, 50], then Brent).
    Marginal: the location as well, numerically (Nelder–Mead on the location and ln q
    with σ profiled out, then Newton steps on all three). q = 2 is gaussian with
    σ = √2 σ_gauss, q = 1 laplace with σ = b: both interior points of q's space
    (regular χ²₁ LR tests). For q < 1 the likelihood in the location has a cusp at every
    target and may have several local maxima.
    """

    name = "generalized_normal"
    loss = "Lq loss |r|^q"
    support = REAL
    pred_domain = REAL
    prediction = "location"
    nuisance = ("power", "scale")
    marginal_params = ("loc", "power", "scale")
    location = "loc"
    param_domains = {"power": "positive", "scale": "positive", "loc": "real"}
    applies_to = ("binary", "count", "integer", "proportion", "positive", "real")
    default_for = ()
    candidate = False  # compare-noise-models fits it only when named (SPEC §9.3)
    counting_newton_from_pilot = True
    nests = (Nesting("gaussian", "power", 2.0, boundary=False),
             Nesting("laplace", "power", 1.0, boundary=False))
    spread = ("scale", "scale")
    frameworks = Frameworks(pytorch=None, sklearn=None, xgboost=None, lightgbm=None,
                            catboost="Lq:q=q")

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        q, s = params["power"], params["scale"]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            const = np.log(q) - LOG_2 - special.gammaln(1.0 / np.asarray(q)) - np.log(s)
            ll = np.abs(np.subtract(y, pred))
            ll /= s
            np.power(ll, q, out=ll)
            ll *= -1.0
            ll += const
        return ll

    # -- fits
    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        y = np.asarray(y, dtype=np.float64)
        if pred is not None:
            return self._conditional(np.subtract(y, pred), w)
        return self._marginal(y, w)

    def _conditional(self, r: np.ndarray, w: np.ndarray | None) -> Params:
        """q̂ by the profile, σ̂ in closed form at it."""
        W = total_weight(r.size, w)
        with np.errstate(divide="ignore"):
            log_abs = np.log(np.abs(r))
        if w is not None:  # rows of weight 0 play no part (their |r| may be the largest)
            log_abs = np.where(w > 0.0, log_abs, -np.inf)
        if not np.any(np.isfinite(log_abs)):
            raise FitError("every residual is 0, so the generalised normal scale σ is 0 "
                           "and the likelihood is unbounded")

        def nll(u: float) -> float:
            with np.errstate(over="ignore", under="ignore"):
                return _profile_nll(log_abs, w, W, math.exp(u))

        lo, hi = math.log(POWER_MIN), math.log(POWER_MAX)
        grid = np.linspace(lo, hi, 41)
        f = np.array([nll(u) for u in grid])
        k = int(np.nanargmin(f))
        if k in (0, grid.size - 1):
            raise FitError(
                "the generalised normal likelihood keeps rising as the power goes to "
                f"{'0 (a spike at the prediction)' if k == 0 else '∞ (a uniform)'}: no "
                f"maximum with {POWER_MIN} < q < {POWER_MAX}; fix it with "
                "--fix generalized_normal.power=VALUE")
        u, _ = optimize.minimize_bounded(nll, grid[k - 1], grid[k + 1], xatol=1e-11)
        q = math.exp(u)
        return {"power": q, "scale": self._scale(r, w, W, q)}

    @staticmethod
    def _scale(r: Any, w: np.ndarray | None, W: float, q: Any) -> float:
        """σ̂ = (q Σw|r|^q/W)^(1/q) at a given power (a float or per row: then σ solves
        Σw qᵢ(|r|/σ)^qᵢ = W, by Brent on ln σ)."""
        a = np.abs(np.asarray(r, dtype=np.float64))
        if np.ndim(q) == 0:
            top = float(np.max(a)) if a.size else 0.0
            if not top > 0.0:
                raise FitError("every residual is 0, so the generalised normal scale σ is "
                               "0 and the likelihood is unbounded")
            m = wsum(np.power(a / top, q), w) / W
            return top * (q * m) ** (1.0 / q)

        def score(u: float) -> float:
            with np.errstate(over="ignore"):
                return wsum(q * np.power(a / math.exp(u), q), w) / W - 1.0

        top = float(np.max(a))
        if not top > 0.0:
            raise FitError("every residual is 0, so the generalised normal scale σ is 0 "
                           "and the likelihood is unbounded")
        return math.exp(optimize.root_decreasing(
            score, math.log(top), "the scale runs to 0", "the scale runs to ∞",
            xtol=1e-14, rtol=1e-14))

    def _marginal(self, y: np.ndarray, w: np.ndarray | None) -> Params:
        """Nelder–Mead on (location, ln q) of the profile nll (σ at its closed form),
        from the median and the conditional profile's q there; then Newton steps on all
        three parameters of the full likelihood."""
        W = total_weight(y.size, w)
        m0 = weighted_median(y, w)
        try:
            start = self._conditional(y - m0, w)
        except FitError:
            start = {"power": 2.0}

        def nll(p: Params) -> float:
            with np.errstate(divide="ignore", over="ignore", under="ignore"):
                log_abs = np.log(np.abs(y - p["loc"]))
                q = p["power"]
                if not POWER_MIN / 2 < q < 2 * POWER_MAX:
                    return math.inf
                return _profile_nll(log_abs, w, W, q)

        p = optimize.minimize_params(nll, {"loc": m0, "power": start["power"]},
                                     ("loc", "power"), self.param_domains)
        p["scale"] = self._scale(y - p["loc"], w, W, p["power"])
        return self._polish(y, w, None, p, self.marginal_params)

    def _polish(self, y: np.ndarray, w: np.ndarray | None, pred: Any, params: Params,
                names: tuple[str, ...]) -> Params:
        def total(p: Params) -> float:
            with np.errstate(all="ignore"):
                return wsum(self.loglik(y, p["loc"] if pred is None else pred, p), w)

        polished, status = optimize.polish(total, params, names, self.param_domains)
        return polished if status == optimize.CONVERGED else params

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """Conditional (or a held location) with the power given: σ̂ in closed form (a
        power per row: σ̂ by a 1-D root). Other cases: None (the shared optimiser)."""
        if pred is None and "loc" in given:
            pred = given["loc"]
            free = tuple(k for k in free if k != "loc")
        if pred is None or free != ("scale",) or "power" not in given:
            return None
        r = np.subtract(y, pred)
        return {"scale": self._scale(r, w, total_weight(np.size(y), w), given["power"])}

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        try:
            start = self.fit(y, w, pred)
        except FitError:
            start = {"loc": weighted_median(y, w)} if pred is None else {}
            start.update(power=2.0, scale=0.5)
        # the discretised likelihood is bounded; keep the start away from a zero scale
        start["scale"] = max(start["scale"], 0.05)
        return start

    # -- c.d.f.s, in log space
    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """ln ½ + ln Q(1/q, |z|^q) below ŷ, ln(1 − ½Q(1/q, z^q)) above (z = (x − ŷ)/σ)."""
        return _log_lower(np.subtract(x, pred) / params["scale"], params["power"])

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return _log_lower(np.subtract(pred, x) / params["scale"], params["power"])

    def cdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return np.exp(self.logcdf(x, pred, params))

    def standardised(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray | None:
        if np.ndim(params["power"]):
            return None
        return np.subtract(y, pred) / params["scale"]

    def standard_quantiles(self, q: np.ndarray, params: Params) -> np.ndarray:
        return self.ppf(q, 0.0, {"power": params["power"], "scale": 1.0})

    def ppf(self, q: Any, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) = ŷ ± σ·x^(1/p), x = Q⁻¹(1/p, 2 min(q, 1 − q)), p the power."""
        p, s = params["power"], params["scale"]
        q = np.asarray(q, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = special.gammainccinv(1.0 / np.asarray(p), 2.0 * np.minimum(q, 1.0 - q))
            z = np.power(x, 1.0 / np.asarray(p))
        return np.asarray(pred, dtype=np.float64) + np.where(q < 0.5, -z, z) * s

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        """σ² Γ(3/q)/Γ(1/q)."""
        p, s = params["power"], params["scale"]
        v = np.square(s) * np.exp(special.gammaln(3.0 / np.asarray(p))
                                  - special.gammaln(1.0 / np.asarray(p)))
        return np.broadcast_to(v, np.shape(f)).astype(np.float64)

    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """CRPS = E|X − y| − ½E|X − X′|, z = (y − ŷ)/σ: E|X − z| = z(2F(z) − 1)
        + Γ(2/q)Q(2/q, |z|^q)/Γ(1/q) in closed form (∫_t^∞ x f = Γ(2/q)Q(2/q, t^q)/(2Γ(1/q)));
        E|X − X′| = 4∫₀^∞ F(1 − F) by adaptive quadrature to 1e-12, once per distinct power
        (a power given per row: once for each of its distinct values)."""
        p, s = params["power"], np.asarray(params["scale"], dtype=np.float64)
        z = np.subtract(y, pred) / s
        a = np.abs(z)
        with np.errstate(over="ignore", invalid="ignore"):
            lower = np.exp(_log_lower(-a, p))  # F(−|z|) = 1 − F(|z|)
            inv = 1.0 / np.asarray(p, dtype=np.float64)
            tail = np.exp(special.gammaln(2.0 * inv) - special.gammaln(inv)) * special.gammaincc(
                2.0 * inv, np.power(a, p))
        e_abs = a * (1.0 - 2.0 * lower) + tail
        if np.ndim(p):
            values, index = np.unique(p, return_inverse=True)
            gini = np.array([_gini(float(v)) for v in values])[index.ravel()]
        else:
            gini = _gini(float(p))
        return s * (e_abs - 0.5 * gini)

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        return stats.gennorm(params["power"], loc=pred, scale=params["scale"])


@functools.lru_cache(maxsize=256)
def _gini(p: float) -> float:
    """E|X − X′| of the standard generalised normal of power p: 4∫₀^∞ F(1 − F) dx with
    1 − F = ½Q(1/p, x^p) above 0 (adaptive quadrature, split where the tail turns)."""
    from scipy import integrate

    def f(x: float) -> float:
        t = 0.5 * float(special.gammaincc(1.0 / p, x ** p))
        return t * (1.0 - t)

    edge = max(1.0, 3.0 ** (1.0 / p))
    head = integrate.quad(f, 0.0, edge, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
    rest = integrate.quad(f, edge, math.inf, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
    return 4.0 * (head + rest)


def _log_lower(z: np.ndarray, p: Any) -> np.ndarray:
    """log F(z) of the standard generalised normal of power p."""
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        lq = log_upper_gamma(1.0 / np.asarray(p), np.power(np.abs(z), p)) + LOG_HALF
        return np.where(z < 0.0, lq, np.log1p(-np.exp(lq)))
