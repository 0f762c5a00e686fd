"""Zero-inflated Poisson and negative binomial noise (SPEC §9.2).

A zero-inflated count is 0 with probability π and otherwise a draw X of the base law
(Poisson, or NB2 with over-dispersion α) with mean λ. The prediction ŷ is the overall
mean E[Y] = (1 − π)λ, what a model trained with the Poisson loss estimates, so the base
mean is λ = ŷ/(1 − π):

    P(0) = π + (1 − π) g₀(λ),  P(k) = (1 − π) f(k; λ) for k ≥ 1,

g₀ = e^(−λ) (Poisson) or (1 + αλ)^(−1/α) (NB2). At π = 0 each is its base family.

The fits work in u = −log(1 − π) ≥ 0 (λ = ŷ e^u). The score in u is, per row,

    y ≥ 1:  (y − λ)/(1 + αλ) − 1,
    y = 0:  e^(−u) (1 − g₀ (1 + h₀)) / P(0),   h₀ = λ/(1 + αλ),

so π̂ given α is 0 where the score at u = 0 is ≤ 0, else its root (bracketed, Brent).
Marginal mode: the MLE of the mean is exactly the weighted mean ȳ, for every family of
this form (the π-score makes the fitted P(0) the share of zeros, and the λ-score then
gives Σwy/W = (1 − π)λ), so the marginal fit is the conditional one at ŷ = ȳ.
Zero-inflated NB: α̂ maximises the profile likelihood max_π ℓ(π, α), by Brent's method
in log α from the negative binomial's α̂, finished by Newton steps; α = 0 (the
zero-inflated Poisson) where that limit fits at least as well.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli import optimize
from losscli.errors import FitError
from losscli.noise import crps as crps_forms
from losscli.noise import nb_sums
from losscli.noise.base import PILOT_ROWS, PILOT_SEED, Family, Frameworks, Nesting, Params
from losscli.noise.logspace import gammaln_int
from losscli.noise.measures import COUNTING
from losscli.noise.negative_binomial import NEGLIGIBLE, NegativeBinomial, fit_alpha, log_rising
from losscli.noise.sums import wmean
from losscli.noise.support import COUNTS, NONNEGATIVE
from losscli.reduce import seeded_rows

U_MAX = 50.0  # π = 1 − e^(−50): beyond it the zeros are all inflation
ROOT_TOL = 1e-13
WARM = 0.01  # half-width of the first bracket around a warm start of û
PROFILE_TOL = 1e-8  # û inside the profile likelihood: its error costs O(δu²) there
_NB = NegativeBinomial()


def _pi_of(u: float) -> float:
    return -math.expm1(-u)


class _Rows:
    """The rows of a fit split by y = 0 and y ≥ 1, with the sums that do not move with
    (π, α): the per-row work of one evaluation is a few array operations on each part."""

    def __init__(self, y: np.ndarray, w: np.ndarray | None, mu: np.ndarray) -> None:
        y = np.asarray(y, dtype=np.float64)
        mu = np.broadcast_to(np.asarray(mu, dtype=np.float64), y.shape)
        w = np.ones(y.shape) if w is None else np.asarray(w, dtype=np.float64)
        # a row with y > 0 at μ = 0 has probability 0 for every (π, α): it says nothing
        # about them (scoring reports it), so the fit leaves it out
        keep = (w > 0.0) & ((mu > 0.0) | (y == 0.0))
        zero = keep & (y == 0.0)
        pos = keep & (y > 0.0)
        self.mu0, self.w0 = mu[zero], w[zero]
        self.y1, self.mu1, self.w1 = y[pos], mu[pos], w[pos]
        self.W = float(self.w0.sum() + self.w1.sum())
        # Poisson terms of the positive rows: Σw(y − 1), Σwμ, Σw(y log μ − log y!)
        self.s_y1 = float(np.dot(self.w1, self.y1 - 1.0))
        self.s_mu1 = float(np.dot(self.w1, self.mu1))
        self.s_wy1 = float(np.dot(self.w1, self.y1))
        self.s_w1 = float(self.w1.sum())
        self.s_const = float(np.dot(self.w1, special.xlogy(self.y1, self.mu1)
                                    - gammaln_int(self.y1)))
        self.values, self.inverse = np.unique(self.y1, return_inverse=True)
        self.w_values = np.bincount(self.inverse, weights=self.w1, minlength=self.values.size)
        self._alpha_table: tuple[float, float] | None = None

    def rising(self, alpha: float) -> float:
        """Σ_{y≥1} w A(y, α), one table of A over the distinct values per α."""
        if self._alpha_table is None or self._alpha_table[0] != alpha:
            table = log_rising(self.values, alpha)
            self._alpha_table = (alpha, float(np.dot(self.w1, table[self.inverse])))
        return self._alpha_table[1]

    # -- log g₀(λ) and h₀ = λ/(1 + αλ) of the zero rows
    def _zero_terms(self, u: float, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        lam = self.mu0 * math.exp(u)
        if alpha == 0.0:
            return -lam, lam
        return -np.log1p(alpha * lam) / alpha, lam / (1.0 + alpha * lam)

    def loglik(self, u: float, alpha: float) -> float:
        """Σ w log q at π = 1 − e^(−u) and α."""
        e = math.exp(u)
        lg0, _ = self._zero_terms(u, alpha)
        # log P(0) = log(1 − e^(−u)(1 − g₀)) = log(π + (1 − π) g₀)
        with np.errstate(divide="ignore"):
            ll0 = float(np.dot(self.w0, np.log1p(-math.exp(-u) * -np.expm1(lg0))))
        # y ≥ 1: −u + y log λ − log y! + [Poisson: −λ | NB: A(y, α) − (y + r) log(1 + αλ)]
        ll1 = -u * self.s_w1 + self.s_const + u * self.s_wy1
        if alpha == 0.0:
            ll1 -= e * self.s_mu1
        else:
            lam = self.mu1 * e
            ll1 += self.rising(alpha)
            ll1 -= float(np.dot(self.w1 * (self.y1 + 1.0 / alpha), np.log1p(alpha * lam)))
        return ll0 + ll1

    def derivatives(self, u: float, s: float) -> tuple[float, np.ndarray, np.ndarray]:
        """(ℓ, ∇ℓ, ∇²ℓ) in x = (u, s = log α): one pass over the rows. With λ = μe^u,
        x = αλ, h = λ/(1 + x), k = (log(1 + x) − x/(1 + x))/α² (= ∂ log g₀/∂α):

            y ≥ 1:  ∂ᵤ = (y − λ)/(1 + x) − 1,  ∂ᵤᵤ = −λ(1 + αy)/(1 + x)²,
                    ∂_α = A′(y) − yh + k,  ∂_αα = A″(y) + yh² + k′,
                    ∂ᵤ_α = −(y − λ)λ/(1 + x)²,
            y = 0:  ℓ = log P₀, P₀ = 1 − e^(−u)(1 − g₀), from P₀'s derivatives
                    ∂ᵤP₀ = e^(−u)(1 − g₀(1 + h)), ∂_αP₀ = e^(−u)g₀k,
                    ∂ᵤᵤP₀ = −∂ᵤP₀ + e^(−u)g₀h(1 + h − 1/(1 + x)),
                    ∂ᵤ_αP₀ = −e^(−u)g₀(k(1 + h) − h²), ∂_ααP₀ = e^(−u)g₀(k² + k′),

        k′ = ∂k/∂α = (2x/(1 + x) + x²/(1 + x)² − 2 log(1 + x))/α³, A′ = Σ_{j<y} j/(1 + jα),
        A″ = −Σ_{j<y} j²/(1 + jα)² (tables over the distinct y); then ∂_s = α∂_α,
        ∂_ss = α²∂_αα + α∂_α, ∂ᵤ_s = α∂ᵤ_α."""
        alpha = math.exp(s)
        e, em = math.exp(u), math.exp(-u)
        grad = np.zeros(2)
        hess = np.zeros((2, 2))
        # y = 0
        lam, x, den, h, k, dk = _nb_terms(self.mu0 * e, alpha)
        lg0 = -np.log1p(x) / alpha
        g0 = np.exp(lg0)
        one_m_g0 = -np.expm1(lg0)
        p0 = 1.0 - em * one_m_g0
        pu = em * (one_m_g0 - g0 * h)
        qg = em * g0
        pa = qg * k
        puu = -pu + qg * h * (h + x / den)
        pua = -qg * (k * (1.0 + h) - h * h)
        paa = qg * (k * k + dk)
        gu, ga = pu / p0, pa / p0
        w0 = self.w0
        ll = float(np.dot(w0, np.log(p0)))
        grad += (float(np.dot(w0, gu)), float(np.dot(w0, ga)))
        hess[0, 0] += float(np.dot(w0, puu / p0 - gu * gu))
        hess[0, 1] += float(np.dot(w0, pua / p0 - gu * ga))
        hess[1, 1] += float(np.dot(w0, paa / p0 - ga * ga))
        # y ≥ 1
        y, w1 = self.y1, self.w1
        lam, x, den, h, k, dk = _nb_terms(self.mu1 * e, alpha)
        r = (y - lam) / den
        ll += self.loglik_positive(u, alpha, lam)
        grad[0] += float(np.dot(w1, r)) - self.s_w1
        hess[0, 0] -= float(np.dot(w1, lam * (1.0 + alpha * y) / (den * den)))
        hess[0, 1] -= float(np.dot(w1, r * lam / den))
        d1, d2 = self.rising_derivatives(alpha)
        grad[1] += d1 + float(np.dot(w1, k - y * h))
        hess[1, 1] += d2 + float(np.dot(w1, dk + y * h * h))
        # to s = log α
        g_a = grad[1]
        grad[1] *= alpha
        hess[0, 1] *= alpha
        hess[1, 1] = alpha * alpha * hess[1, 1] + alpha * g_a
        hess[1, 0] = hess[0, 1]
        return ll, grad, hess

    def loglik_positive(self, u: float, alpha: float, lam: np.ndarray) -> float:
        """Σ_{y≥1} w log q at u and α > 0 (λ = μe^u given)."""
        return (-u * self.s_w1 + self.s_const + u * self.s_wy1 + self.rising(alpha)
                - float(np.dot(self.w1 * (self.y1 + 1.0 / alpha), np.log1p(alpha * lam))))

    def rising_derivatives(self, alpha: float) -> tuple[float, float]:
        """(Σ w A′(y, α), Σ w A″(y, α)) over the rows y ≥ 1, by running sums over
        j < max y."""
        if not self.values.size:
            return 0.0, 0.0
        j = np.arange(int(self.values[-1]), dtype=np.float64)
        t = j / (1.0 + alpha * j)
        c1 = np.concatenate(([0.0], np.cumsum(t)))
        c2 = np.concatenate(([0.0], np.cumsum(t * t)))
        at = self.values.astype(np.int64)
        return float(np.dot(self.w_values, c1[at])), -float(np.dot(self.w_values, c2[at]))

    def score(self, u: float, alpha: float) -> float:
        """dℓ/du (module docstring)."""
        lg0, h0 = self._zero_terms(u, alpha)
        g0 = np.exp(lg0)
        em = math.exp(-u)
        with np.errstate(invalid="ignore", divide="ignore"):
            num = -np.expm1(lg0) - g0 * h0  # 1 − g₀(1 + h₀)
            p0 = 1.0 - em * -np.expm1(lg0)
            s0 = float(np.dot(self.w0, em * num / p0))
        if alpha == 0.0:
            s1 = self.s_y1 - math.exp(u) * self.s_mu1
        else:
            lam = self.mu1 * math.exp(u)
            s1 = float(np.dot(self.w1, (self.y1 - lam) / (1.0 + alpha * lam))) - self.s_w1
        return s0 + s1

    def fit_u(self, alpha: float, start: float = 0.0, tol: float = ROOT_TOL) -> float:
        """û given α: 0 where the score at u = 0 is ≤ 0, else the score's root (to `tol`:
        inside the profile likelihood an error δu costs only O(δu²) there)."""
        if not self.score(0.0, alpha) > 0.0:
            return 0.0
        if self.s_w1 == 0.0:
            raise FitError("every target is 0, so the likelihood keeps rising as the "
                           "zero-inflation π goes to 1: no maximum with π < 1")
        if start > 0.0:  # a bracket around a nearby root first: few evaluations
            lo, hi = max(start - WARM, 0.0), start + WARM
            if (lo == 0.0 or self.score(lo, alpha) > 0.0) and not self.score(hi, alpha) > 0.0:
                return optimize.root(lambda u: self.score(u, alpha), lo, hi, xtol=tol,
                                     rtol=4 * np.finfo(float).eps)
        lo, hi = 0.0, max(start, 0.0) + 0.25
        while self.score(hi, alpha) > 0.0:
            lo, hi = hi, 2.0 * hi + 1.0
            if hi > U_MAX:
                raise FitError("the zero-inflation π runs to 1: no maximum with π < 1")
        return optimize.root(lambda u: self.score(u, alpha), lo, hi, xtol=tol,
                             rtol=4 * np.finfo(float).eps)


class ZeroInflatedPoisson(Family):
    """y = 0 with probability π, else Poisson(λ); ŷ = E[Y] = (1 − π)λ, π ∈ [0, 1).

    log q(0) = log(π + (1 − π)e^(−λ)), log q(k) = log(1 − π) + k log λ − λ − log k!;
    Var = μ + μ²π/(1 − π). π̂ by the one-dimensional score root (module docstring);
    marginal: mean = ȳ exactly, then π̂. At π = 0 it is poisson (a boundary nesting).
    statsmodels: `statsmodels.distributions.discrete.zipoisson(mu=λ, w=π)`.
    """

    name = "zero_inflated_poisson"
    loss = "zero-inflated Poisson NLL"
    support = COUNTS
    pred_domain = NONNEGATIVE
    discrete = True
    measure = COUNTING
    prediction = "mean"
    nuisance = ("pi",)
    marginal_params = ("mean", "pi")
    param_domains = {"pi": "probability_below_one", "mean": "nonnegative"}
    location = "mean"
    applies_to = ("binary", "count")
    nests: tuple[Nesting, ...] = (Nesting("poisson", "pi", 0.0),)
    # no framework has a zero-inflated loss (the recommendation names the Poisson loss
    # for the same mean instead)
    frameworks = Frameworks(pytorch=None, sklearn=None, xgboost=None, lightgbm=None)

    # diagnostics
    pit_method = "nonrandomized"
    calibration = True
    dispersion_test = "pearson"
    zero_test = True
    rootogram = True

    def _alpha(self, params: Params) -> Any:
        return 0.0

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log q(y): at π = 0 (one π for every row) the nested count family's log q
        exactly (log(0 + 1·g₀) = log g₀), in one pass."""
        pi = params["pi"]
        alpha = self._alpha(params)
        y = np.asarray(y, dtype=np.float64)
        if np.ndim(pi) == 0 and pi == 0.0:
            return _NB.loglik(y, pred, {"alpha": alpha})
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.divide(pred, np.subtract(1.0, pi))
            ll = _NB.loglik(y, lam, {"alpha": alpha})
            ll += np.log1p(np.negative(pi))
            zero = y == 0.0
            if zero.any():
                l1p = np.broadcast_to(np.log1p(np.negative(pi)), y.shape)[zero]
                lg0 = _log_g0(np.broadcast_to(lam, y.shape)[zero],
                              np.broadcast_to(alpha, y.shape)[zero] if np.ndim(alpha)
                              else alpha)
                lpi = np.log(np.broadcast_to(pi, y.shape)[zero])
                ll[zero] = np.logaddexp(lpi, l1p + lg0)
        return ll

    def information(self, y: np.ndarray, w: np.ndarray | None, pred: Any, params: Params,
                    names: tuple[str, ...]) -> np.ndarray | None:
        """Conditional, π alone (one number): −d²/dπ² Σ w log q in closed form. In
        u = −log(1 − π), λ = ŷe^u: y ≥ 1 gives ∂ᵤ = y − 1 − λ, ∂ᵤᵤ = −λ; y = 0 gives
        log P₀, P₀ = 1 − e^(−u)(1 − e^(−λ)), ∂ᵤP₀ = e^(−u)(1 − e^(−λ)(1 + λ)),
        ∂ᵤᵤP₀ = −∂ᵤP₀ + e^(−u)e^(−λ)λ²; then d²/dπ² = (∂ᵤᵤ + ∂ᵤ)e^(2u). Otherwise None
        (the shared numerical Hessian)."""
        if pred is None or names != ("pi",) or np.ndim(params["pi"]):
            return None
        u = -math.log1p(-float(params["pi"]))
        e, em = math.exp(u), math.exp(-u)
        rows = _Rows(y, w, pred)
        with np.errstate(all="ignore"):
            lam0 = rows.mu0 * e
            g0 = np.exp(-lam0)
            p0 = 1.0 - em * -np.expm1(-lam0)
            d1 = em * (1.0 - g0 * (1.0 + lam0))
            d2 = -d1 + em * g0 * lam0 * lam0
            r1 = d1 / p0
            grad = float(np.dot(rows.w0, r1)) + (rows.s_wy1 - rows.s_w1 - e * rows.s_mu1)
            hess = float(np.dot(rows.w0, d2 / p0 - r1 * r1)) - e * rows.s_mu1
        info = -(hess + grad) * e * e
        return np.array([[info]]) if math.isfinite(info) else None

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        out: Params = {}
        if pred is None:
            pred = out["mean"] = wmean(y, w)
        rows = _Rows(y, w, pred)
        if not rows.W > 0.0:
            return {**out, **{k: 0.0 for k in self.nuisance}}
        out.update(self._fit_rows(rows, y, w, pred))
        return out

    def _fit_rows(self, rows: _Rows, y: np.ndarray, w: np.ndarray | None, pred: Any
                  ) -> Params:
        return {"pi": _pi_of(rows.fit_u(0.0))}

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """π alone free, α (if any) held at one number: the score root at that α (in
        marginal mode at the held mean). Otherwise None (the shared optimiser)."""
        if free != ("pi",) or any(np.ndim(v) for v in given.values()):
            return None
        if pred is None:
            pred = float(given["mean"])
        rows = _Rows(y, w, pred)
        return {"pi": _pi_of(rows.fit_u(float(given.get("alpha", 0.0))))}

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from statsmodels.distributions.discrete import zipoisson

        pi = params["pi"]
        return zipoisson(mu=np.divide(pred, np.subtract(1.0, pi)), w=pi)

    # -- diagnostics
    def zero_probability(self, pred: Any, params: Params) -> np.ndarray:
        """π + (1 − π) g₀(λ)."""
        pi = params["pi"]
        lam = np.divide(np.asarray(pred, dtype=np.float64), np.subtract(1.0, pi))
        return pi + np.subtract(1.0, pi) * np.exp(_log_g0(lam, self._alpha(params)))

    def cdf(self, k: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """π + (1 − π) F_base(k; λ) for k ≥ 0, 0 below."""
        pi = params["pi"]
        lam = np.divide(np.asarray(pred, dtype=np.float64), np.subtract(1.0, pi))
        k = np.asarray(k, dtype=np.float64)
        base = _NB.cdf(k, lam, {"alpha": self._alpha(params)})
        return np.where(k < 0, 0.0, pi + np.subtract(1.0, pi) * base)

    def pmf_recurrence(self, pred: Any, params: Params) -> tuple[np.ndarray, np.ndarray, Any]:
        """P(Y = 0) = π + (1 − π)g₀(λ), and from k = 2 on the base law's recurrence at λ
        (from P(Y = 1), `pmf_one`); needs one α for every row."""
        pi = params["pi"]
        lam = np.divide(np.asarray(pred, dtype=np.float64), np.subtract(1.0, pi))
        g0, s, a = _NB.pmf_recurrence(lam, {"alpha": self._alpha(params)})
        return pi + np.subtract(1.0, pi) * g0, s, a

    def pmf_one(self, pred: Any, params: Params) -> np.ndarray:
        """P(Y = 1) = (1 − π) g₀(λ) · a(1) · s, the base law's first step."""
        pi = params["pi"]
        lam = np.divide(np.asarray(pred, dtype=np.float64), np.subtract(1.0, pi))
        g0, s, a = _NB.pmf_recurrence(lam, {"alpha": self._alpha(params)})
        return np.subtract(1.0, pi) * g0 * s * a(1)

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        """μ + μ²(α + π)/(1 − π)."""
        pi, alpha = params["pi"], self._alpha(params)
        return f + f * f * np.divide(np.add(alpha, pi), np.subtract(1.0, pi))

    # -- proper scores (SPEC §8.3): on the counting measure
    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """With F = πδ₀ + (1 − π)G: E|Y − y| = πy + (1 − π)E_G|X − y| and
        ½E|Y − Y′| = π(1 − π)λ + (1 − π)²h, h = ½E_G|X − X′|, so
        CRPS(F, y) = πy + (1 − π)CRPS(G, y) + π(1 − π)(h − λ)."""
        pi, alpha = params["pi"], self._alpha(params)
        lam = np.divide(np.asarray(pred, dtype=np.float64), np.subtract(1.0, pi))
        q = np.subtract(1.0, pi)
        base = nb_sums.negative_binomial(y, lam, alpha)
        h = nb_sums.nb_half_gini(lam, np.broadcast_to(alpha, np.shape(lam)))
        return np.multiply(pi, y) + q * base + np.multiply(pi, q) * (h - lam)

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """min{k : F(k) ≥ q}: 0 where q ≤ F(0), else the base law's quantile at
        (q − π)/(1 − π), checked on F."""
        pi, alpha = params["pi"], self._alpha(params)
        lam = np.divide(np.asarray(pred, dtype=np.float64), np.subtract(1.0, pi))
        lam, pi_b, alpha_b = np.broadcast_arrays(lam, np.asarray(pi, dtype=np.float64),
                                                 np.asarray(alpha, dtype=np.float64))
        qb = np.clip((q - pi_b) / (1.0 - pi_b), 0.0, 1.0)
        pois = alpha_b == 0.0
        a_safe = np.where(pois, 1.0, alpha_b)
        with np.errstate(invalid="ignore"):
            k = np.where(pois, special.pdtrik(qb, lam),
                         special.nbdtrik(qb, 1.0 / a_safe, 1.0 / (1.0 + a_safe * lam)))
        k = np.ceil(k)
        k = np.where(np.isfinite(k) & (lam > 0.0) & (qb > 0.0), np.maximum(k, 0.0), 0.0)
        flat = {"pi": pi_b.ravel(), "alpha": alpha_b.ravel()}
        lam_f = lam.ravel()

        def cdf(kk: np.ndarray, r: np.ndarray) -> np.ndarray:
            p = {"pi": flat["pi"][r], "alpha": flat["alpha"][r]}
            return self.cdf(kk, lam_f[r] * (1.0 - p["pi"]), p)

        return crps_forms.settle(k.ravel(), cdf, q).reshape(k.shape)


class ZeroInflatedNegativeBinomial(ZeroInflatedPoisson):
    """y = 0 with probability π, else NB2(λ, α); ŷ = E[Y] = (1 − π)λ, π ∈ [0, 1), α ≥ 0.

    log q(0) = log(π + (1 − π)(1 + αλ)^(−1/α)), log q(k) = log(1 − π) + log NB2(k; λ, α);
    Var = μ + μ²(α + π)/(1 − π). (π̂, α̂) by the profile likelihood in α (module
    docstring); marginal: mean = ȳ exactly. At π = 0 it is negative_binomial, at α = 0
    zero_inflated_poisson (boundary nestings). statsmodels:
    `statsmodels.distributions.discrete.zinegbin(mu=λ, alpha=α, p=2, w=π)`.
    """

    name = "zero_inflated_negative_binomial"
    loss = "zero-inflated NB NLL"
    nuisance = ("pi", "alpha")
    marginal_params = ("mean", "pi", "alpha")
    param_domains = {"pi": "probability_below_one", "alpha": "nonnegative",
                     "mean": "nonnegative"}
    nests = (Nesting("negative_binomial", "pi", 0.0),
             Nesting("zero_inflated_poisson", "alpha", 0.0))
    log_params = ("alpha",)
    recurrence_scalars = ("alpha",)  # the base law's factor per k needs one α

    def _alpha(self, params: Params) -> Any:
        return params["alpha"]

    def _fit_rows(self, rows: _Rows, y: np.ndarray, w: np.ndarray | None, pred: Any
                  ) -> Params:
        """On many rows a pilot fit on a seeded sample of PILOT_ROWS starts the fit on
        every row near the optimum (parabola steps in log α, each û from a warm
        bracket), so the rows are passed over a few dozen times instead of hundreds."""
        n = np.size(y)
        if n > 4 * PILOT_ROWS:
            idx = seeded_rows(n, PILOT_ROWS, PILOT_SEED)
            pilot = self.fit(y[idx], None if w is None else w[idx],
                             pred[idx] if np.ndim(pred) else pred)
            return self._profile_fit(rows, y, w, pred, pilot)
        return self._profile_fit(rows, y, w, pred, None)

    def _profile_fit(self, rows: _Rows, y: np.ndarray, w: np.ndarray | None, pred: Any,
                     pilot: Params | None) -> Params:
        state = {"u": 0.0 if pilot is None else -math.log1p(-pilot["pi"])}

        def profile(alpha: float) -> float:
            u = rows.fit_u(alpha, state["u"], PROFILE_TOL)
            state["u"] = u
            return rows.loglik(u, alpha)

        mu = np.broadcast_to(np.asarray(pred, dtype=np.float64), np.shape(y))
        if pilot is not None and pilot["alpha"] > 0.0:
            start = float(pilot["alpha"])
        else:
            try:
                start = fit_alpha(np.asarray(y, dtype=np.float64), w, mu)
            except FitError:
                start = 1.0
        top = max(float(rows.y1.max()) if rows.y1.size else 0.0,
                  float(mu.max()) if mu.size else 0.0)
        floor = NEGLIGIBLE / (1.0 + top) ** 2  # below it NB2 is Poisson in every row
        zip_u = rows.fit_u(0.0, state["u"])
        zip_ll = rows.loglik(zip_u, 0.0)
        best = (zip_ll, 0.0, zip_u)
        newton = _newton_fit(rows, state["u"] if pilot is not None else None, start,
                             1e3 * floor)
        if newton is not None:
            ll, alpha, u = newton
            return {"pi": _pi_of(u), "alpha": alpha} if ll > best[0] else \
                {"pi": _pi_of(zip_u), "alpha": 0.0}
        start = min(max(start, 1e3 * floor), 1e6)
        near = pilot is not None and pilot["alpha"] > 0.0

        def objective(p: Params) -> float:
            return -profile(p["alpha"]) if p["alpha"] > floor else math.inf

        try:
            fit = optimize.minimize_params(objective, {"alpha": start}, ("alpha",),
                                           {"alpha": "positive"}, step=0.1 if near else 0.5,
                                           refine=near)
            if near:
                # two more parabola steps, 1e-3 and 1e-4 wide: Newton steps by central
                # differences 1e-5 wide would chase the rounding of sums over many rows
                fit = optimize.minimize_params(objective, fit, ("alpha",),
                                               {"alpha": "positive"}, step=1e-3, refine=True)
            else:
                fit, _ = optimize.polish(lambda p: profile(p["alpha"]), fit, ("alpha",),
                                         {"alpha": "positive"})
            alpha = float(fit["alpha"])
            u = rows.fit_u(alpha, state["u"])
            ll = rows.loglik(u, alpha)
            if ll > best[0]:
                best = (ll, alpha, u)
        except FitError:
            pass  # the profile runs to α → 0: the zero-inflated Poisson limit
        _, alpha, u = best
        return {"pi": _pi_of(u), "alpha": alpha}

    def information(self, y: np.ndarray, w: np.ndarray | None, pred: Any, params: Params,
                    names: tuple[str, ...]) -> np.ndarray | None:
        """Conditional, α > 0: the observed information in (π, α) from the analytic
        derivatives in (u, s = log α) (`_Rows.derivatives`), with du/dπ = e^u,
        d²u/dπ² = e^(2u), ds/dα = 1/α, d²s/dα² = −1/α². Otherwise None."""
        if (pred is None or not set(names) <= {"pi", "alpha"}
                or any(np.ndim(params[k]) for k in ("pi", "alpha"))
                or not params["alpha"] > 0.0):
            return None
        rows = _Rows(y, w, pred)
        u, alpha = -math.log1p(-float(params["pi"])), float(params["alpha"])
        with np.errstate(all="ignore"):
            _, g, h = rows.derivatives(u, math.log(alpha))
        e = math.exp(u)
        own = np.array([
            [(h[0, 0] + g[0]) * e * e, h[0, 1] * e / alpha],
            [h[0, 1] * e / alpha, (h[1, 1] - g[1]) / alpha ** 2]])
        idx = [("pi", "alpha").index(k) for k in names]
        info = -own[np.ix_(idx, idx)]
        return info if np.all(np.isfinite(info)) else None

    def fit_warnings(self, params: Params) -> list[str]:
        alpha = params.get("alpha")
        if np.ndim(alpha) == 0 and alpha == 0.0:
            return ["alpha = 0: the fit reached the zero-inflated Poisson limit"]
        return []

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from statsmodels.distributions.discrete import zinegbin

        pi = params["pi"]
        return zinegbin(mu=np.divide(pred, np.subtract(1.0, pi)), alpha=params["alpha"],
                        p=2, w=pi)


NEWTON_TOL = 1e-6  # the last Newton step in (u, log α): the error left is about its square
# (a smaller one would ask the line search for rises below the rounding of Σ w log q)
NEWTON_ALPHA_MIN = 1e-6  # below it the profile search (near the Poisson limit)
NEWTON_U_MIN = 1e-6  # below it π̂ is on its boundary 0
MAX_LOG_ALPHA = 20.0


def _newton_fit(rows: _Rows, u0: float | None, alpha0: float, floor: float
                ) -> tuple[float, float, float] | None:
    """(ℓ, α̂, û) by damped Newton in (u, log α) from (u0, α0), each step one pass with the
    analytic gradient and Hessian (`_Rows.derivatives`); u0 None: û at α0 by the score
    root. Where û comes out at 0 (π̂ on its boundary), Newton in log α alone at u = 0,
    kept when the u-score there is ≤ 0. None where neither converges to α̂ well above
    the Poisson limit: the profile search's case."""
    if not rows.y1.size or rows.values[-1] > 1e6:
        return None
    s0 = math.log(max(alpha0, floor))
    try:
        if u0 is None:
            u0 = rows.fit_u(alpha0, 0.0, PROFILE_TOL)
    except FitError:
        return None
    alpha_min = max(NEWTON_ALPHA_MIN, floor)

    def joint(x: np.ndarray, derivs: bool) -> tuple[float, Any, Any]:
        if x[1] > MAX_LOG_ALPHA:
            return -math.inf, None, None
        with np.errstate(all="ignore"):
            if derivs:
                return rows.derivatives(float(x[0]), float(x[1]))
            return rows.loglik(float(x[0]), math.exp(x[1])), None, None

    def interior(u: float, s: float) -> tuple[float, float, float] | None:
        x, status, ll = optimize.newton_ascent(joint, np.array([u, s]), tol=NEWTON_TOL,
                                               max_step=1.0, max_iter=50)
        u, alpha = float(x[0]), math.exp(float(x[1]))
        if status == optimize.OK and math.isfinite(ll) and alpha > alpha_min:
            return rows.loglik(u, alpha), alpha, u
        return None

    def boundary(x: np.ndarray, derivs: bool) -> tuple[float, Any, Any]:
        ll, g, h = joint(np.array([0.0, x[0]]), derivs)
        return (ll, g[1:], h[1:, 1:]) if derivs and g is not None else (ll, None, None)

    joint_tried = u0 > 0.0
    if joint_tried:
        fit = interior(u0, s0)
        if fit is not None and fit[2] > NEWTON_U_MIN:
            return fit
        if fit is not None:
            s0 = math.log(fit[1])
    x, status, ll = optimize.newton_ascent(boundary, np.array([s0]), tol=NEWTON_TOL,
                                           max_step=1.0, max_iter=50)
    alpha = math.exp(float(x[0]))
    if not (status == optimize.OK and math.isfinite(ll) and alpha > alpha_min):
        return None
    if not rows.score(0.0, alpha) > 0.0:
        return rows.loglik(0.0, alpha), alpha, 0.0
    if joint_tried:
        return None
    # the u-score is positive at π = 0: the maximum is inside, near û given α̂ there
    try:
        fit = interior(rows.fit_u(alpha, 0.0, PROFILE_TOL), float(x[0]))
    except FitError:
        return None
    return fit if fit is not None and fit[2] > NEWTON_U_MIN else None


SERIES_X = 1e-3  # below it the two differences below by their series (no cancellation)


def _nb_terms(lam: np.ndarray, alpha: float) -> tuple[np.ndarray, ...]:
    """(λ, x = αλ, 1 + x, h = λ/(1 + x), k, ∂k/∂α) of the NB2 log-likelihood's α
    derivatives, with k = (ln(1 + x) − x/(1 + x))/α² from `_log1p_terms`."""
    x = alpha * lam
    den = 1.0 + x
    f1, f2 = _log1p_terms(x)
    return lam, x, den, lam / den, f1 / alpha ** 2, f2 / alpha ** 3


def _log1p_terms(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log(1 + x) − x/(1 + x), x²/(1 + x)² + 2x/(1 + x) − 2 log(1 + x)), x ≥ 0: the
    series Σ_{n≥2} (−1)ⁿ(n − 1)/n · xⁿ and Σ_{n≥3} (−1)ⁿ(n − 1)(n − 2)/n · xⁿ near 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        l1p = np.log1p(x)
        t = x / (1.0 + x)
        f1 = l1p - t
        f2 = t * t + 2.0 * (t - l1p)
    small = x < SERIES_X
    if small.any():
        xs = x[small]
        f1[small] = xs * xs * (0.5 + xs * (-2.0 / 3.0 + xs * (0.75 - xs * 0.8)))
        f2[small] = xs ** 3 * (-2.0 / 3.0 + xs * (1.5 + xs * (-2.4 + xs * (10.0 / 3.0))))
    return f1, f2


def _log_g0(lam: Any, alpha: Any) -> np.ndarray:
    """log P(X = 0) of the base law: −λ (α = 0), −log(1 + αλ)/α (α > 0; per row too)."""
    lam = np.asarray(lam, dtype=np.float64)
    if np.ndim(alpha):
        alpha = np.asarray(alpha, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            nb = -np.log1p(alpha * lam) / np.where(alpha == 0.0, 1.0, alpha)
        return np.where(alpha == 0.0, -lam, nb)
    alpha = float(alpha)
    return -lam if alpha == 0.0 else -np.log1p(alpha * lam) / alpha
