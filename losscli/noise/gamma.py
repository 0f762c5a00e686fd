"""Gamma noise: the negative log-likelihood behind the Gamma deviance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli import optimize
from losscli.errors import FitError
from losscli.noise import crps as crps_forms
from losscli.noise import quadrature
from losscli.noise.base import (
    ContinuousFamily,
    Frameworks,
    Params,
    log_param,
    take_params,
)
from losscli.noise.logspace import stirling_delta
from losscli.noise.sums import total_weight, wmean, wsum
from losscli.noise.support import POSITIVE

# below this, gammainc / gammaincc are recomputed in log space (they underflow to 0 near 1e-308)
_TINY = 1e-300
_MAX_TERMS = 100_000
# above this shape the unit-interval probabilities of the discretised gamma lose their
# digits (and the tail series need ~√shape terms): such fits are refused, not ground out
MAX_COUNTING_SHAPE = 1e10
# above this, log P is computed as log1p(−Q) (and log Q as log1p(−P)): log of a value
# within 1e-3 of 1 keeps at least 13 digits, and only the few tail rows pay the second call
_NEAR_ONE = 0.999
# the step in log k of the central differences of log P on the rows the quadrature's
# moments do not cover (Gamma.interval_spread_derivatives)
DERIVATIVE_STEP = 1e-4
_STEP_UP, _STEP_DOWN = math.exp(DERIVATIVE_STEP), math.exp(-DERIVATIVE_STEP)


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
    spread = ("shape", "inverse")  # Var y = μ²/k: widening divides the shape
    applies_to = ("count", "positive")
    deviance_support = POSITIVE  # the deviance needs y > 0 (and ŷ > 0)
    tweedie_power = 2.0  # TweedieRegressor(power=2)
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
        out += k * log_param(k) - special.gammaln(k)
        return out

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """Marginal, k given (a float or per row): Σ w k (−log μ − y/μ) is maximised at
        μ = Σ w k y / Σ w k; μ given: k from today's conditional fit at ŷ = μ."""
        if pred is not None:
            return None
        if free == ("mean",):
            k = given["shape"]
            if np.ndim(k) == 0:
                return {"mean": wmean(y, w)}
            wk = k if w is None else w * k
            return {"mean": float(np.dot(wk, y)) / float(np.sum(wk))}
        if free == ("shape",):
            return self.fit(y, w, given["mean"])
        return None

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

    def standardised(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray | None:
        """y/μ: F(y) = P(k, k·y/μ); None when k is per row (no one G)."""
        if np.ndim(params["shape"]):
            return None
        return np.divide(y, pred)

    def standard_quantiles(self, q: np.ndarray, params: Params) -> np.ndarray:
        k = params["shape"]
        return special.gammaincinv(k, q) / k

    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        k = params["shape"]
        if np.ndim(k):
            return _beyond(k, log_gammainc(k, np.maximum(x, 0.0) * (k / pred)))
        if k > MAX_COUNTING_SHAPE:  # beyond resolution: not finite, the optimiser backs off
            return np.full(np.broadcast_shapes(np.shape(x), np.shape(pred)), np.nan)
        return log_gammainc(k, np.maximum(x, 0.0) * (k / pred))

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        k = params["shape"]
        if np.ndim(k):
            return _beyond(k, log_gammaincc(k, np.maximum(x, 0.0) * (k / pred)))
        if k > MAX_COUNTING_SHAPE:
            return np.full(np.broadcast_shapes(np.shape(x), np.shape(pred)), np.nan)
        return log_gammaincc(k, np.maximum(x, 0.0) * (k / pred))

    def interval_loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log P(max(y − ½, 0) < Y ≤ y + ½).

        For y − ½ > 0 by Gauss–Legendre quadrature in log y on the rows where
        `quadrature_rows` proves it within quadrature.TOL; for intervals [0, y + ½] by the
        power series of P(k, x) where `_log_lower_series` proves its truncation; all other
        rows from the incomplete gamma function (the generic c.d.f. difference, on [0, b]
        just log F(b)).
        """
        k = params["shape"]
        y = np.asarray(y, dtype=np.float64)
        per_row = np.ndim(k) > 0  # k per row: the same paths with k, its constants per row
        if y.ndim != 1 or (np.any(k > MAX_COUNTING_SHAPE) if per_row
                           else k > MAX_COUNTING_SHAPE):
            return super().interval_loglik(y, pred, params)
        mu = np.broadcast_to(np.asarray(pred, dtype=np.float64), y.shape)
        if per_row:
            k = np.broadcast_to(np.asarray(k, dtype=np.float64), y.shape)
        const = None if per_row else _log_norm_shape(k)
        # the intervals [0, y + ½] by the series, all at once: a loop of up to
        # SERIES_TERMS steps is cheaper on one array of these rows than on each block's
        zero_vals = np.empty(y.size)
        zero_done = np.zeros(y.size, dtype=bool)
        zero = np.flatnonzero((y <= 0.5) & (k <= SERIES_MAX_SHAPE)) if per_row else (
            np.flatnonzero(y <= 0.5) if k <= SERIES_MAX_SHAPE else np.zeros(0, dtype=np.intp))
        if zero.size:
            kz = k[zero] if per_row else k
            x = y[zero] + 0.5
            x *= kz
            x /= mu[zero]
            lp, ok = _log_lower_series(kz, x)
            zero = zero[ok]
            zero_vals[zero] = lp[ok]
            zero_done[zero] = True

        def block(sl: slice, out: np.ndarray) -> np.ndarray:
            yb, mb = y[sl], mu[sl]
            done = zero_done[sl].copy()
            if done.any():
                out[done] = zero_vals[sl][done]
            inside = yb > 0.5  # y − ½ > 0: the quadrature in log y may apply
            rows = np.flatnonzero(inside)
            if rows.size:
                kr = k[sl][rows] if per_row else k
                parts = _quadrature_parts(yb[rows], mb[rows], kr)
                mask = _quadrature_mask(parts, kr)
                if not mask.all():
                    parts = tuple(v[mask] for v in parts)
                    rows = rows[mask]
                    kr = kr[mask] if per_row else kr
                vals = _interval_quadrature(parts, kr,
                                            _log_norm_shape_rows(kr) if per_row else const)
                ok = vals <= quadrature.LOG_P_MAX
                if not ok.all():
                    rows, vals = rows[ok], vals[ok]
                out[rows] = vals
                done[rows] = True
            return done

        def fallback(rest: np.ndarray) -> np.ndarray:
            yr, mr = y[rest], mu[rest]
            pr = take_params(params, rest) if per_row else params
            out = np.empty(rest.size)
            zero = yr <= 0.5  # the interval is [0, y + ½]: F(0) = 0
            if zero.any():
                pz = take_params(pr, zero) if per_row else pr
                out[zero] = self.logcdf(yr[zero] + 0.5, mr[zero], pz)
            if not zero.all():
                other = ~zero
                po = take_params(pr, other) if per_row else pr
                out[other] = super(Gamma, self).interval_loglik(yr[other], mr[other], po)
            return out

        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return quadrature.evaluate(y.size, block, fallback)[0]

    def interval_spread_derivatives(self, a: np.ndarray, b: np.ndarray, pred: Any,
                                    params: Params, ll: np.ndarray
                                    ) -> tuple[np.ndarray, np.ndarray]:
        """(P′/P, P″/P) in s = log k of the unit intervals of the counts,
        P = ∫_a^b p(x) dx, a = max(y − ½, 0), b = y + ½ (ll = log P).

        With u = x/μ, ∂ₖ log p = D = G + v, G = log k − ψ(k), v = 1 + log u − u, and
        ∂ₖD = 1/k − ψ′(k), so under the density across the interval (⟨·⟩)
        P′/P = k(G + ⟨v⟩) and P″/P = k²⟨(G + v)²⟩ + P′/P + k(1 − kψ′(k)).
        ⟨v⟩, ⟨v²⟩ come from the quadrature nodes of `interval_loglik` (`quadrature.moments`)
        on the rows where its bound holds; at a node, u = r e^{hs} with r = √(ab)/μ, so
        v = (log r − (r − 1)) + hs − r expm1(hs) = (log r − (r − 1)) + g/k, g the
        quadrature's exponent k hs − x_m expm1(hs), x_m = k r. Elsewhere (the intervals
        [0, ½] of y = 0, and rows the bound does not prove) central differences of log P
        at k e^{±δ}, δ = DERIVATIVE_STEP: an error of ~δ² in P′/P, ~1e-6 in P″/P.
        """
        k = params["shape"]
        y = np.subtract(b, 0.5)
        mu = np.broadcast_to(np.asarray(pred, dtype=np.float64), y.shape)
        d1 = np.empty(y.shape)
        d2 = np.empty(y.shape)
        rest = np.ones(y.shape, dtype=bool)
        if np.ndim(k) == 0 and 0.0 < k <= MAX_COUNTING_SHAPE and y.ndim == 1:
            rows = np.flatnonzero(a > 0.0)
            parts = _quadrature_parts(y[rows], mu[rows], k)
            mask = _quadrature_mask(parts, k)
            rows = rows[mask]
            h, xm, d = (v[mask] for v in parts)

            def exponent(sl: slice, s: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
                np.multiply(s, h[sl], out=out)
                np.expm1(out, out=tmp)
                tmp *= xm[sl]
                out *= k
                out -= tmp

            # v = (log r − (r − 1)) + g/k: its moments from those of g
            base = np.log1p(d)
            base -= d
            g1, g2 = quadrature.moments(exponent, rows.size)
            g1 /= k
            g2 /= k * k
            m1 = base + g1
            m2 = base * (base + 2.0 * g1)
            m2 += g2
            gap, slope = _shape_gap(k)  # G and 1 − kψ′(k)
            first = m1 + gap
            first *= k
            second = m2 + gap * (2.0 * m1 + gap)
            second *= k * k
            second += first
            second += k * slope
            d1[rows], d2[rows] = first, second
            rest[rows] = False
        idx = np.flatnonzero(rest)
        if idx.size:
            yr, mr = y[idx], mu[idx]
            pr = take_params(params, idx) if np.ndim(k) else params
            up = self.interval_loglik(yr, mr, {**pr, "shape": pr["shape"] * _STEP_UP})
            down = self.interval_loglik(yr, mr, {**pr, "shape": pr["shape"] * _STEP_DOWN})
            first = (up - down) / (2.0 * DERIVATIVE_STEP)
            curve = (up - 2.0 * ll[idx] + down) / DERIVATIVE_STEP ** 2
            d1[idx] = first
            d2[idx] = curve + first * first
        return d1, d2

    # diagnostics
    decomposition = "nll"
    calibration = True

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        k = params["shape"]
        return f * f / (k if np.ndim(k) else float(k))

    def row_terms(self, y: np.ndarray) -> np.ndarray:
        return np.log(y)[None, :]

    def recalibrated_score(self, rc, sw, mean, m2, terms, W, value_counts) -> float:
        """k(d + 1) − k log k + log Γ(k) + Σw log y / W, where d is the mean half gamma
        deviance log(μ/y) + y/μ − 1 at μ = rc and the shape k solves log k − ψ(k) = d."""
        logy = float(terms[0]) / W
        d = -logy + float((sw * np.log(rc)).sum() / W) + float((sw * mean / rc).sum() / W) - 1.0
        if not d > 0.0:
            return math.nan

        def g(t: float) -> float:
            k = math.exp(t)
            return math.log(k) - float(special.digamma(k)) - d

        t = optimize.root(g, -40.0, 40.0, xtol=1e-14, rtol=1e-15)
        k = math.exp(t)
        return k * (d + 1.0) - k * math.log(k) + math.lgamma(k) + logy

    def closed_se(self, params: Params, W: float, conditional: bool) -> dict:
        """−∂²ℓ/∂k² = W(ψ′(k) − 1/k) (free of the data); marginal mean: −∂²ℓ/∂μ² = kW/μ²
        at μ̂ = ȳ, where the cross term Σw(y − μ)k/μ² vanishes."""
        k = params["shape"]
        out = {"shape": (W * (float(special.polygamma(1, k)) - 1.0 / k)) ** -0.5}
        if not conditional:
            out["mean"] = params["mean"] / math.sqrt(k * W)
        return out

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        k = params["shape"]
        return stats.gamma(a=k, scale=np.asarray(pred) / k)

    # -- proper scores (SPEC §8.3)
    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """The closed form of `crps_forms.gamma` (shape k, mean μ = ŷ)."""
        return crps_forms.gamma(y, pred, params["shape"])

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) = P⁻¹(k, q) μ/k (gammaincinv)."""
        k = crps_forms.arr(params["shape"])
        return special.gammaincinv(k, q) * (crps_forms.arr(pred) / k)


# ------------------------------------------------------------------ quadrature on log y

# the power series of P(k, x) scores the intervals [0, y + ½] up to this shape, with at
# most SERIES_TERMS terms, to a relative error of SERIES_TOL
SERIES_MAX_SHAPE = 1e3
SERIES_TERMS = 48
SERIES_TOL = 1e-15
_ULP = 2.0 ** -53


def _log_lower_series(k: float, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log P(k, x) from P = xᵏ e⁻ˣ / Γ(k + 1) · Σₙ tₙ, t₀ = 1, tₙ = tₙ₋₁ x / (k + n), and
    the mask of the rows where its error is proven below 1e-10 relative to |log P|.

    After the terms n ≤ N the rest is Σ_{n>N} tₙ ≤ t_N r / (1 − r), r = x / (k + N + 1),
    since every later ratio is at most r; the sum is ≥ 1, so that bounds the relative
    error. Each row with x < k + SERIES_TERMS is summed until that is within SERIES_TOL
    (checked every 8 terms), for at most SERIES_TERMS terms; rows with larger x are not
    accepted (the series is slow there). All terms are positive, so the sum keeps its digits (2 N u
    relative, u = 2⁻⁵³, N ≤ SERIES_TERMS the terms), and the four terms of log P are
    rounded by at most 4u times the sum of their magnitudes. A row is accepted where the
    sum of the three is at most 1e-10 |log P|, which keeps P near 1 (log P near 0) on the
    c.d.f. path.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # the rows still being summed (indices into x), and their last term and sum
        rows = np.flatnonzero(x < k + SERIES_TERMS)
        xr = x[rows]
        kr = _rows(k, rows)
        term = np.ones_like(xr)
        total = np.ones(x.shape)
        part = np.ones_like(xr)
        ok = np.zeros(x.shape, dtype=bool)
        for n in range(1, SERIES_TERMS + 1):
            term *= xr
            term *= 1.0 / (kr + n)
            part += term
            if n % 8 == 0 or n == SERIES_TERMS:
                # every 8 terms the converged rows leave the sum
                r = xr / (kr + n + 1.0)
                rest = term * r
                rest /= 1.0 - r
                conv = (r < 1.0) & (rest <= SERIES_TOL * part)
                total[rows] = part
                ok[rows[conv]] = True
                more = ~conv
                if not more.any() or n == SERIES_TERMS:
                    break
                rows, xr, term, part = rows[more], xr[more], term[more], part[more]
                kr = _rows(kr, more)
        lgk = special.gammaln(k + 1.0) if np.ndim(k) else float(special.gammaln(k + 1.0))
        out = np.log(x)
        out *= k
        err = np.abs(out)
        err += x
        err += np.abs(lgk)
        out -= x
        lt = np.log(total)
        out += lt
        err += lt
        out -= lgk
        err *= 4.0 * _ULP
        err += SERIES_TOL + 2.0 * SERIES_TERMS * _ULP
        ok &= err <= 1e-10 * np.abs(out)
    return out, ok


def _rows(v, rows):
    """A per-row value's rows (a scalar as it is)."""
    return v[rows] if np.ndim(v) else v


def _beyond(k: np.ndarray, out: np.ndarray) -> np.ndarray:
    """NaN on the rows whose shape is beyond MAX_COUNTING_SHAPE (as the scalar path)."""
    big = np.broadcast_to(k, out.shape) > MAX_COUNTING_SHAPE
    if big.any():
        out = np.where(big, np.nan, out)
    return out


def _log_norm_shape_rows(k: np.ndarray) -> np.ndarray:
    """`_log_norm_shape` of a shape per row."""
    return 0.5 * np.log(k / (2.0 * math.pi)) - stirling_delta(k)


def _log_norm_shape(k: float) -> float:
    """½ log(k / 2π) − S(k), S(k) = log Γ(k) − (k − ½) log k + k − ½ log 2π (Stirling's
    correction, logspace.stirling_delta)."""
    return 0.5 * math.log(k / (2.0 * math.pi)) - stirling_delta(k)


def _quadrature_parts(y: np.ndarray, mu: np.ndarray, k: float) -> tuple[np.ndarray, ...]:
    """Per row, in t = log y over [log(y − ½), log(y + ½)]: the half-width h = ½ log((y + ½)/
    (y − ½)), x_m = k √((y − ½)(y + ½)) / μ (the rate times y at the midpoint) and
    d = x_m / k − 1. Where y − ½ ≤ 0, h = ∞ and x_m = 0: the bound is NaN there."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        a = y - 0.5
        np.maximum(a, 0.0, out=a)  # a ≤ 0: h = ∞ and x_m = 0, whose bound is NaN
        h = np.reciprocal(a)
        np.log1p(h, out=h)
        h *= 0.5
        r = y + 0.5
        r *= a
        np.sqrt(r, out=r)
        r /= mu
        xm = r * k
        r -= 1.0
    return h, xm, r


def quadrature_rows(y: np.ndarray, pred: Any, k: float) -> np.ndarray:
    """Mask of the rows whose unit-interval probability the quadrature (`quadrature.NODES`
    Gauss–Legendre nodes in t = log y) gives within relative error quadrature.TOL.

    In t the density is x^k e^{−x} / Γ(k) with x = (k/μ) eᵗ, an entire function of t. With
    h, x_m of `_quadrature_parts` and t = t_m + h s, the log-density relative to the
    midpoint is g(s) = k h s − x_m (e^{hs} − 1), so in the notation of the quadrature
    module c = (k − x_m) h and q(s) = −x_m (e^{hs} − 1 − hs). On the real interval
    0 ≤ e^w − 1 − w ≤ e^{|w|} w²/2, so q ≥ −x_m h² e^h s²/2: C = x_m h² e^h. On the disc
    |s| ≤ A, |e^w − 1 − w| ≤ e^{|w|} − 1 − |w|, so Q(A) = x_m (e^{hA} − 1 − hA)
    (quadrature.expm1_remainder). g is entire; the intervals [0, y + ½] (where t = log y
    runs to −∞) never take this path.

    Rounding: each node's g = k h s − x_m expm1(h s) is computed with an error of about
    2u (k h + x_m h e^h), u = 2⁻⁵³. Where the bound holds, Q ≤ 21 and |c| ≤ 13 (the
    candidates have ρ ≤ 16 and A ≥ 2.6), so x_m h² ≤ 6.2, k h ≤ 3.5 √k + 13 and
    x_m h ≤ k h + 13, with e^h ≤ 1.74 (h ≤ artanh ½): at most 2u (9.6 √k + 58), which at
    MAX_COUNTING_SHAPE = 1e10 is 2.2e-10 relative in P (4.4e-10 against |log P| ≥ ½, see
    quadrature.LOG_P_MAX), and far less at the shapes of real data. The
    per-row terms (log p_t(t_m), c, x_m) carry the rounding of y/μ, u·k|d|, which any
    evaluation from y and μ has; against |log P| ≳ k d²/2 it is small. The incomplete
    gamma function of the c.d.f. path is much less accurate at large shapes (~1e-8 at
    k = 1e6), so there the quadrature is also the more accurate path.
    """
    y = np.asarray(y, dtype=np.float64)
    mu = np.broadcast_to(np.asarray(pred, dtype=np.float64), y.shape)
    return _quadrature_mask(_quadrature_parts(y, mu, k), k)


def _quadrature_mask(parts: tuple[np.ndarray, ...], k: float) -> np.ndarray:
    """`quadrature_rows` from the parts of `_quadrature_parts`."""
    return quadrature.proven(*_bound_parts(parts, k))


def _bound_parts(parts: tuple[np.ndarray, ...], k: float) -> tuple:
    """c, C and Q of `quadrature_rows`, as quadrature.proven takes them."""
    h, xm, _ = parts
    with np.errstate(over="ignore", invalid="ignore"):
        c = k - xm
        c *= h
        curvature = np.exp(h)
        curvature *= h
        curvature *= h
        curvature *= xm

    def remainder(big_a: float, rows: slice | np.ndarray) -> np.ndarray:
        out = quadrature.expm1_remainder(h[rows] * big_a)
        out *= xm[rows]
        return out

    return c, curvature, remainder


def _interval_quadrature(parts: tuple[np.ndarray, ...], k: float, const: float) -> np.ndarray:
    """log P = log p_t(t_m) + log h + log Σᵢ wᵢ e^{g(sᵢ)}, p_t the density of log Y, with
    log p_t(t_m) = k log x_m − x_m − log Γ(k) written as k (log(1 + d) − d) + ½ log(k/2π)
    − S(k) (`_log_norm_shape`), which does not cancel at large k."""
    h, xm, d = parts

    def exponent(sl: slice, s: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
        np.multiply(s, h[sl], out=out)
        np.expm1(out, out=tmp)
        tmp *= xm[sl]
        out *= _rows(k, sl)
        out -= tmp

    out = quadrature.log_integral(exponent, h.size)
    ld = np.log1p(d)
    ld -= d
    ld *= k
    ld += const
    out += ld
    out += np.log(h)
    return out


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

    def score(u: float) -> tuple[float, float]:
        g, dg = _shape_gap(math.exp(u))
        return g - D, dg

    u, status = optimize.newton_root(score, math.log(k), tol=1e-14)
    k = math.exp(u)
    if status == optimize.NOT_FINITE or not (math.isfinite(k) and k > 0.0):
        raise FitError(f"the gamma shape equation has no finite root (D = {D!r})")
    return k


# ------------------------------------------------------------------ incomplete gamma, in logs


def _near_one(out: np.ndarray, mask: np.ndarray, other, a: float, x: np.ndarray) -> None:
    """Where P (or Q) is near 1, log(1 − Q) keeps the relative precision log P loses."""
    if mask.any():
        out[mask] = np.log1p(-other(_rows(a, mask), x[mask]))


def log_gammainc(a: float, x: np.ndarray) -> np.ndarray:
    """log P(a, x), the regularised lower incomplete gamma function, for x ≥ 0.

    scipy's gammainc has full relative precision until it underflows near 1e-308; below
    _TINY the power series P = xᵃ e⁻ˣ / Γ(a + 1) · Σₙ xⁿ / ((a + 1)⋯(a + n)) is summed
    with the prefactor in logs (there x < a, so the series converges). Near 1: log1p(−Q).
    """
    x = np.asarray(x, dtype=np.float64)
    if np.ndim(a):  # a per row, aligned with x
        a, x = np.broadcast_arrays(np.asarray(a, dtype=np.float64), x)
    if x.ndim == 0:
        return log_gammainc(a, x[None])[0]
    p = special.gammainc(a, x)
    with np.errstate(divide="ignore"):
        out = np.log(p)
    _near_one(out, p > _NEAR_ONE, special.gammaincc, a, x)
    tiny = (p < _TINY) & (x > 0.0)
    if tiny.any():
        xs = x[tiny]
        at = _rows(a, tiny)
        term = np.ones_like(xs)
        total = np.ones_like(xs)
        for j in range(1, _MAX_TERMS):
            term *= xs / (at + j)
            total += term
            if np.all(term < 1e-17 * total):
                break
        out[tiny] = at * np.log(xs) - xs - special.gammaln(at + 1.0) + np.log(total)
    return out


def log_gammaincc(a: float, x: np.ndarray) -> np.ndarray:
    """log Q(a, x) = log(1 − P(a, x)), for x ≥ 0.

    Below _TINY (there x > a + 1) from the continued fraction
    Q = xᵃ e⁻ˣ / Γ(a) · 1/(x + 1 − a − 1(1 − a)/(x + 3 − a − 2(2 − a)/(x + 5 − a − …))),
    evaluated by the modified Lentz method (Numerical Recipes §6.2) with the prefactor in
    logs. Near 1: log1p(−P).
    """
    x = np.asarray(x, dtype=np.float64)
    if np.ndim(a):  # a per row, aligned with x
        a, x = np.broadcast_arrays(np.asarray(a, dtype=np.float64), x)
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
        q_tail = special.gammaincc(_rows(a, tail), x[tail])
        q[tail] = q_tail
        with np.errstate(divide="ignore"):
            out[tail] = np.log(q_tail)
    tiny = q < _TINY
    if tiny.any():
        xs = x[tiny]
        a = _rows(a, tiny)
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
