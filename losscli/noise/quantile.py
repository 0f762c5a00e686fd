"""Asymmetric Laplace noise: the negative log-likelihood behind the pinball (quantile) loss."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losscli.errors import FitError
from losscli.noise import crps as crps_forms
from losscli.noise.base import ContinuousFamily, Frameworks, Nesting, Params
from losscli.noise.sums import total_weight, wsum
from losscli.noise.support import REAL


def pinball(r: Any, tau: float) -> np.ndarray:
    """ρ_τ(r) = r(τ − 1{r < 0}) = τ r⁺ + (1 − τ) r⁻, the pinball (check) loss."""
    r = np.asarray(r, dtype=np.float64)
    return tau * np.maximum(r, 0.0) + (1.0 - tau) * np.maximum(-r, 0.0)


def weighted_quantile(y: np.ndarray, w: np.ndarray | None, tau: float) -> float:
    """The midpoint of the interval of minimisers of Σ w ρ_τ(y − m): in sorted order the
    first value whose cumulative weight reaches τW; where it sits on τW exactly (up to
    the rounding of the cumulative sum, n·ε·W), every m up to the next value with weight
    is a minimiser and the midpoint is returned. At τ = ½ this is laplace's median."""
    order = np.argsort(y, kind="stable")
    ys = y[order]
    cw = np.cumsum(np.ones(y.size) if w is None else w[order])
    total = float(cw[-1]) if cw.size else 0.0
    if not total > 0.0:
        raise FitError("the weights sum to 0, so the quantile is undefined")
    tol = y.size * np.finfo(np.float64).eps * total
    target = tau * total
    k = int(np.searchsorted(cw, target - tol, side="left"))
    j = int(np.searchsorted(cw, target + tol, side="right"))
    if j > k and j < ys.size:  # the cumulative weight sits on τW: a flat stretch
        return 0.5 * (float(ys[k]) + float(ys[j]))
    return float(ys[min(k, ys.size - 1)])


def _log_levels(tau: Any) -> Any:
    """ln τ and ln(1 − τ) (floats, or arrays of a per-row τ), NaN outside (0, 1): a numeric
    fit's step outside τ's space reads a likelihood that is not finite."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if np.ndim(tau) == 0:
            if 0.0 < tau < 1.0:
                return math.log(tau), math.log1p(-tau)
            return math.nan, math.nan
        tau = np.where((tau > 0.0) & (tau < 1.0), tau, np.nan)
        return np.log(tau), np.log1p(-tau)


def _tau_given_scale(d: Any) -> Any:
    """argmax over τ of ln τ + ln(1 − τ) − τA + (τ − 1)B, d = A − B: the root in (0, 1) of
    dτ² − (d + 2)τ + 1 = 0, written 2/((d + 2) + √(d² + 4)) (no cancellation; ½ at d = 0)."""
    d = np.asarray(d, dtype=np.float64)
    return 2.0 / ((d + 2.0) + np.sqrt(d * d + 4.0))


def _tau_free(p: Any, n: Any) -> Any:
    """argmin over τ of ln(τP + (1 − τ)N) − ln τ − ln(1 − τ), the profile nll with σ̂(τ)
    = τP + (1 − τ)N: its derivative vanishes where (P − N)τ² + 2Nτ − N = 0, whose root in
    [0, 1] is τ = √N/(√P + √N); there σ̂ = √(PN)."""
    sp, sn = np.sqrt(p), np.sqrt(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sn / (sp + sn)


class Quantile(ContinuousFamily):
    """y ~ asymmetric Laplace: q(y) = τ(1 − τ)/σ · exp(−ρ_τ(y − ŷ)/σ), ρ_τ(r) = r(τ − 1{r<0}),
    ŷ the τ-quantile (P(Y ≤ ŷ) = τ), 0 < τ < 1, σ > 0 the scale.

    log q = ln τ + ln(1 − τ) − ln σ − ρ_τ(y − ŷ)/σ. Minimising it over ŷ with τ, σ fixed
    is minimising the pinball loss at level τ. With P = Σw r⁺/W and N = Σw r⁻/W,
    r = y − ŷ: given τ, σ̂ = Σw ρ_τ(r)/W = τP + (1 − τ)N; with τ free too, the profile nll
    ln σ̂(τ) − ln τ(1 − τ) + 1 is least at τ̂ = √N/(√P + √N), σ̂ = √(PN) (closed form).
    Marginal: ŷ the weighted τ-quantile (the midpoint of the minimisers of Σwρ_τ(y − m),
    like laplace's median); with τ free, min_m Σwρ_τ(y − m)/W is linear in τ between the
    targets' cumulative weights, so the same closed form on each piece, clipped to it,
    gives the exact profile maximum. At τ = ½ it is laplace with scale b = 2σ (an
    interior point of τ's space: a regular χ²₁ LR test). scipy: laplace_asymmetric with
    κ = √(τ/(1 − τ)), scale σ/√(τ(1 − τ)). Source: Yu and Zhang (2005).
    """

    name = "quantile"
    loss = "pinball loss (quantile loss)"
    support = REAL
    pred_domain = REAL
    prediction = "τ-quantile"
    nuisance = ("tau", "scale")
    marginal_params = ("quantile", "tau", "scale")
    location = "quantile"
    param_domains = {"scale": "positive", "quantile": "real", "tau": "unit"}
    closed_form = ("conditional",)
    applies_to = ("binary", "count", "integer", "proportion", "positive", "real",
                  "semicontinuous")
    default_for = ()
    candidate = False  # compare-noise-models fits it only when named (SPEC §9.3)
    nests = (Nesting("laplace", "tau", 0.5, boundary=False),)
    frameworks = Frameworks(
        pytorch=None,
        # one word each (tables never break a name); τ is the level the fit found or held
        sklearn="HistGradientBoostingRegressor(loss='quantile',quantile=τ)",
        xgboost="reg:quantileerror(quantile_alpha=τ)",
        lightgbm="quantile(alpha=τ)",
        catboost="Quantile:alpha=τ",
    )

    spread = ("scale", "scale")

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        tau, s = params["tau"], params["scale"]
        lt, lu = _log_levels(tau)
        const = lt + lu
        with np.errstate(invalid="ignore", divide="ignore"):
            ll = pinball(np.subtract(y, pred), tau)
            ll /= -np.asarray(s, dtype=np.float64)
            ll += const
            ll -= np.log(s)
        return ll

    # -- fits
    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        free = self.nuisance if pred is not None else self.marginal_params
        return self.fit_given_closed(y, w, pred, {}, free)

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """The weighted MLE of the `free` parameters with the `given` ones held (floats
        or per-row arrays); only the free ones are returned. Closed forms: σ̂ = Σwρ_τ(r)/W
        given τ; τ̂ the root of a quadratic given σ (with A = Σwr⁺/σ/W, B = Σwr⁻/σ/W:
        1/τ − 1/(1 − τ) = A − B); both free as in the class docstring. Marginal:
        piecewise on the sorted targets; the τ-quantile under per-row σ is the weighted
        τ-quantile with weights w/σ. None (the shared optimiser) for τ free in marginal
        mode under a per-row σ, or a location with a per-row τ."""
        y = np.asarray(y, dtype=np.float64)
        W = total_weight(y.size, w)
        if pred is None and "quantile" in given:  # a held location plays ŷ
            pred, free = given["quantile"], tuple(k for k in free if k != "quantile")
            given = {k: v for k, v in given.items() if k != "quantile"}
        if pred is None:
            return self._fit_marginal(y, w, W, given, free)
        out: Params = {}
        r = np.subtract(y, pred)
        if "tau" in given:
            if "scale" in free:
                out["scale"] = self._scale(wsum(pinball(r, given["tau"]), w) / W,
                                           "every residual is 0")
            return out
        if "scale" in given:
            s = np.asarray(given["scale"], dtype=np.float64)
            a = wsum(np.maximum(r, 0.0) / s, w) / W
            b = wsum(np.maximum(-r, 0.0) / s, w) / W
            out["tau"] = float(_tau_given_scale(a - b))
            return out
        p = wsum(np.maximum(r, 0.0), w) / W
        n = wsum(np.maximum(-r, 0.0), w) / W
        return self._both(p, n)

    def _both(self, p: float, n: float) -> Params:
        """τ̂ and σ̂ from the mean positive and negative parts of the residuals."""
        if not (p > 0.0 and n > 0.0):
            if p > 0.0 or n > 0.0:
                side = "below" if n == 0.0 else "above"
                raise FitError(
                    f"no target lies {side} its prediction, so the likelihood keeps rising "
                    f"as τ goes to {0 if n == 0.0 else 1} (an exponential beyond the "
                    "prediction): no maximum with 0 < τ < 1; fix τ with "
                    "--fix quantile.tau=VALUE")
            raise FitError("every residual is 0, so the asymmetric Laplace scale σ is 0 and "
                           "the likelihood is unbounded")
        return {"tau": float(_tau_free(p, n)), "scale": math.sqrt(p) * math.sqrt(n)}

    @staticmethod
    def _scale(s: float, why: str) -> float:
        if not s > 0.0:
            raise FitError(f"{why}, so the asymmetric Laplace scale σ is 0 and the "
                           "likelihood is unbounded")
        return float(s)

    def _fit_marginal(self, y: np.ndarray, w: np.ndarray | None, W: float, given: Params,
                      free: tuple[str, ...]) -> Params | None:
        out: Params = {}
        scale = given.get("scale")
        rows = np.ndim(scale) > 0
        if "tau" in given:
            tau = given["tau"]
            if np.ndim(tau):
                return None
        elif rows:
            return None
        else:
            tau = self._profile_tau(y, w, None if scale is None else float(scale))
        # Σ w ρ_τ(y − m)/σᵢ is least at the τ-quantile of the weights w/σᵢ
        m = weighted_quantile(y, ((1.0 if w is None else w) / scale) if rows else w, tau)
        if "quantile" in free:
            out["quantile"] = m
        if "tau" in free:
            out["tau"] = tau
        if "scale" in free:
            out["scale"] = self._scale(wsum(pinball(y - m, tau), w) / W,
                                       "every target is equal")
        return out

    def _profile_tau(self, y: np.ndarray, w: np.ndarray | None, scale: float | None) -> float:
        """τ̂ of the marginal fit (σ profiled out, or held at `scale`).

        Between consecutive cumulative weights C_{k−1} < τ < C_k of the distinct sorted
        targets v_k, the τ-quantile is v_k and Σwρ_τ(y − v_k)/W = τP_k + (1 − τ)N_k is
        linear in τ; the closed-form optimum of each piece, clipped to it, is a candidate,
        and the best candidate is the exact profile maximum. With σ profiled out, τ → 0
        (or 1) tends to an exponential above the smallest (below the largest) target; when
        that limit fits better than every τ inside, there is no maximum and the fit fails.
        """
        v, inv = np.unique(y, return_inverse=True)
        c = np.bincount(inv.ravel(), weights=w, minlength=v.size).astype(np.float64)
        keep = c > 0.0  # a value of weight 0 is no piece
        v, c = v[keep], c[keep]
        if v.size < 2:
            raise FitError("every target is equal, so the asymmetric Laplace scale σ is 0 "
                           "and the likelihood is unbounded")
        W = float(c.sum())
        x = v - v[v.size // 2]  # centred, so the cumulative sums below lose little
        cum = np.cumsum(c) / W
        cum[-1] = 1.0
        prev = np.concatenate([[0.0], cum[:-1]])
        sx = np.cumsum(c * x) / W
        n = x * prev - np.concatenate([[0.0], sx[:-1]])
        p = (sx[-1] - sx) - x * (1.0 - cum)
        np.maximum(n, 0.0, out=n)
        np.maximum(p, 0.0, out=p)
        n[0] = 0.0
        p[-1] = 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            if scale is None:
                t = np.clip(_tau_free(p, n), prev, cum)
                f = np.log(t * p + (1.0 - t) * n) - np.log(t) - np.log1p(-t)
                # the limits τ → 0 and τ → 1: an exponential from either end
                f[0], f[-1] = math.log(p[0]), math.log(n[-1])
            else:
                t = np.clip(_tau_given_scale((p - n) / scale), prev, cum)
                f = (t * p + (1.0 - t) * n) / scale - np.log(t) - np.log1p(-t)
        k = int(np.nanargmin(f))
        if scale is None and (t[k] <= 0.0 or t[k] >= 1.0):
            end = "smallest" if t[k] <= 0.0 else "largest"
            raise FitError(
                "the likelihood keeps rising as τ goes to "
                f"{0 if t[k] <= 0.0 else 1} (an exponential from the {end} target fits "
                "better than any asymmetric Laplace): no maximum with 0 < τ < 1; fix τ "
                "with --fix quantile.tau=VALUE")
        # the chosen piece again, its sums taken directly about v_k (no cumulative sums)
        r = y - v[k]
        wp = wsum(np.maximum(r, 0.0), w) / W
        wn = wsum(np.maximum(-r, 0.0), w) / W
        tau = _tau_free(wp, wn) if scale is None else _tau_given_scale((wp - wn) / scale)
        return float(np.clip(tau, prev[k], cum[k]))

    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray | None:
        """Conditional: r⁺ and r⁻ (r = y − ŷ), whose means P and N give τ̂ and σ̂, or σ̂
        at a given τ. The marginal quantile needs sorted data."""
        if pred is None:
            return None
        r = np.subtract(y, pred)
        return np.stack([np.maximum(r, 0.0), np.maximum(-r, 0.0)])

    def fit_from_stats(self, stats: Any, conditional: bool, given: Params | None = None
                       ) -> Params:
        """τ̂, σ̂ (or σ̂ alone at a given τ) from the means of `fit_stats`."""
        p, n = float(stats.mean[0]), float(stats.mean[1])
        if given and "tau" in given:
            tau = float(given["tau"])
            return {"scale": self._scale(tau * p + (1.0 - tau) * n, "every residual is 0")}
        return self._both(p, n)

    def numeric_params(self, conditional: bool) -> tuple[str, ...]:
        # marginal: the quantile is not a smooth optimum and τ, σ given it are exact
        return self.nuisance if conditional else ()

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        try:
            start = self.fit(y, w, pred)
        except FitError:
            start = {"quantile": weighted_quantile(y, w, 0.5)} if pred is None else {}
            start.update(tau=0.5, scale=0.5)
        # the discretised likelihood is bounded; keep the start away from a zero scale
        start["scale"] = max(start["scale"], 0.05)
        return start

    # -- c.d.f.s, in log space
    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """ln τ + (1 − τ)z below ŷ, ln(1 − (1 − τ)e^{−τz}) above (z = (x − ŷ)/σ)."""
        tau = params["tau"]
        z = np.subtract(x, pred) / params["scale"]
        lt, _ = _log_levels(tau)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            above = np.log1p(-(1.0 - tau) * np.exp(-tau * np.maximum(z, 0.0)))
            # + 0·ln τ: NaN on the rows whose τ is outside (0, 1)
            return np.where(z < 0.0, lt + (1.0 - tau) * z, above + 0.0 * lt)

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """ln(1 − τ) − τz above ŷ, ln(1 − τe^{(1 − τ)z}) below."""
        tau = params["tau"]
        z = np.subtract(x, pred) / params["scale"]
        _, lu = _log_levels(tau)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            below = np.log1p(-tau * np.exp((1.0 - tau) * np.minimum(z, 0.0)))
            return np.where(z >= 0.0, lu - tau * z, below + 0.0 * lu)

    def interval_loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log P(y − ½ < Y ≤ y + ½) in closed form (z_a, z_b the ends in units of σ):
        below ŷ ln τ + (1 − τ)z_b + ln(1 − e^{−(1 − τ)/σ}), above it
        ln(1 − τ) − τz_a + ln(1 − e^{−τ/σ}), and an interval around ŷ holds
        −τ·expm1((1 − τ)z_a) − (1 − τ)·expm1(−τz_b), a sum of two positive terms (no
        cancellation when σ is large). Row by row, so σ may be given per row."""
        tau = params["tau"]
        s = np.asarray(params["scale"], dtype=np.float64)
        za = np.subtract(np.subtract(y, 0.5), pred) / s
        zb = np.subtract(np.add(y, 0.5), pred) / s
        lt, lu = _log_levels(tau)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            below = (lt + np.log(-np.expm1(-(1.0 - tau) / s))) + (1.0 - tau) * zb
            above = (lu + np.log(-np.expm1(-tau / s))) - tau * za
            inside = 0.0 * lt + np.log(-tau * np.expm1((1.0 - tau) * np.minimum(za, 0.0))
                            - (1.0 - tau) * np.expm1(-tau * np.maximum(zb, 0.0)))
        return np.where(zb <= 0.0, below, np.where(za >= 0.0, above, inside))

    def cdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """F(x) = exp(logcdf)."""
        return np.exp(self.logcdf(x, pred, params))

    def standardised(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray | None:
        """z = (y − ŷ)/σ: F(y) = G_τ(z), one G per fit (None where τ is given per row)."""
        if np.ndim(params["tau"]):
            return None
        return np.subtract(y, pred) / params["scale"]

    def standard_quantiles(self, q: np.ndarray, params: Params) -> np.ndarray:
        """G_τ⁻¹(q): ln(q/τ)/(1 − τ) below τ, −ln((1 − q)/(1 − τ))/τ above."""
        tau = params["tau"]
        q = np.asarray(q, dtype=np.float64)
        with np.errstate(divide="ignore"):
            return np.where(q < tau, np.log(q / tau) / (1.0 - tau),
                            -np.log((1.0 - q) / (1.0 - tau)) / tau)

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        """σ²(1 − 2τ + 2τ²)/(τ²(1 − τ)²), whatever the forecast."""
        tau, s = params["tau"], params["scale"]
        v = np.square(s) * (1.0 - 2.0 * tau + 2.0 * tau * tau) / (tau * (1.0 - tau)) ** 2
        return np.broadcast_to(v, np.shape(f)).astype(np.float64)

    def crps_lower(self, c: Any, pred: Any, params: Params) -> np.ndarray:
        """σ·∫_{−∞}^{(c − ŷ)/σ} F² of the standard law (closed form:
        `crps_forms.asymmetric_laplace_lower_square`)."""
        s = crps_forms.arr(params["scale"])
        z = (crps_forms.arr(c) - pred) / s
        return s * crps_forms.asymmetric_laplace_lower_square(z, params["tau"])

    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """CRPS(F, y) = E|X − y| − ½E|X − X′| in closed form, z = (y − ŷ)/σ:
        for z ≥ 0, σ[z + 2(1 − τ)e^{−τz}/τ + τ(2 − τ)/(2(1 − τ)) − (1 − τ)(3 − τ)/(2τ) − 1];
        for z < 0 the same with z → −z and τ → 1 − τ (the reflected distribution)."""
        tau, s = params["tau"], params["scale"]
        z = np.subtract(y, pred) / s
        neg = z < 0.0
        t = np.where(neg, 1.0 - tau, tau)
        a = np.abs(z)
        h = a + 2.0 * (1.0 - t) * np.exp(-t * a) / t
        h += t * (2.0 - t) / (2.0 * (1.0 - t)) - (1.0 - t) * (3.0 - t) / (2.0 * t) - 1.0
        return h * s

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) = ŷ + σ log(q/τ)/(1 − τ) for q ≤ τ (F = τe^((1 − τ)r/σ) below ŷ), else
        ŷ − σ log((1 − q)/(1 − τ))/τ (1 − F = (1 − τ)e^(−τr/σ) above)."""
        tau = np.asarray(params["tau"], dtype=np.float64)
        s = np.asarray(params["scale"], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(q <= tau, s * np.log(q / tau) / (1.0 - tau),
                         -s * np.log((1.0 - q) / (1.0 - tau)) / tau)
        return np.asarray(pred, dtype=np.float64) + r

    # the marginal quantile: Σwρ_τ(y − q) has a kink at every target, no second derivative
    nonsmooth = ("quantile",)

    def closed_se(self, params: Params, W: float, conditional: bool) -> dict:
        """In (τ, σ) at the MLE (the quantile held): −∂²ℓ/∂τ² = W(1/τ² + 1/(1 − τ)²),
        −∂²ℓ/∂σ² = W/σ² (σ̂ = Σwρ_τ/W), −∂²ℓ/∂τ∂σ = −Σwr/σ² = −W(1 − 2τ)/(στ(1 − τ))
        (τ's score is 0 there)."""
        tau, s = params["tau"], params["scale"]
        info = W * np.array([[1.0 / tau ** 2 + 1.0 / (1.0 - tau) ** 2,
                              -(1.0 - 2.0 * tau) / (s * tau * (1.0 - tau))],
                             [-(1.0 - 2.0 * tau) / (s * tau * (1.0 - tau)), 1.0 / s ** 2]])
        cov = np.linalg.inv(info)
        return {"tau": math.sqrt(cov[0, 0]), "scale": math.sqrt(cov[1, 1])}

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        tau, s = params["tau"], params["scale"]
        return stats.laplace_asymmetric(kappa=np.sqrt(np.divide(tau, 1.0 - tau)), loc=pred,
                                        scale=np.divide(s, np.sqrt(tau * (1.0 - tau))))
