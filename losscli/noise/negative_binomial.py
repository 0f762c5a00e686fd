"""Negative binomial (NB2) noise: the negative log-likelihood of over-dispersed counts.

y ~ NB(μ, α) with mean μ = ŷ and Var = μ + αμ² (Cameron & Trivedi's NB2), r = 1/α:

    log q = log Γ(y + r) − log Γ(r) − log Γ(y + 1) + r log(r/(r + μ)) + y log(μ/(r + μ))
          = A(y, α) + y log μ − (y + r) log(1 + αμ) − log Γ(y + 1),

with A(y, α) = log Γ(y + r) − log Γ(r) + y log α = Σ_{j<y} log(1 + αj). The second form has
no y log α − y log α cancellation and tends to the Poisson log-pmf y log μ − μ − log Γ(y + 1)
as α → 0; at α = 0 it is that pmf.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli import optimize
from losscli.errors import FitError
from losscli.noise import nb_sums
from losscli.noise.base import Family, Frameworks, Nesting, Params
from losscli.noise.logspace import STIRLING_FROM, gammaln_int, stirling_series, xlogy
from losscli.noise.measures import COUNTING
from losscli.noise.sums import total_weight, value_counts, wmean
from losscli.noise.support import COUNTS, NONNEGATIVE

# log Γ(y + r) − log Γ(r) loses ~eps·r·log r to cancellation as r = 1/α grows (1e-11 at
# r = 1e4), so from r = 10 on A(y, α) uses Stirling's series instead (logspace).
STIRLING_R = STIRLING_FROM
PRODUCT_MAX = 12  # per row, A(k, α) for k up to this as the log of its factors' product
# The score's μ-terms r²(log(1 + x) − x/(1 + x)) cancel to O(x²) for small x = αμ; below
# this x they are summed from their Taylor series instead (seven terms: relative error of
# order x⁷ < 1e-20).
SERIES_X = 1e-3
# y values up to this use the exact tail-sum form of Σ_{j<y} j/(1 + αj) (cost O(max y)).
TAIL_SUM_MAX = 2_000_000
# Where α·(1 + max(y, μ))² is below this, NB2 and Poisson agree to double precision in every
# row, so a root of the score there is reported as the Poisson limit α = 0.
NEGLIGIBLE = 1e-13
# Newton converges quadratically: after a step of size s on log α the error is O(s²), so
# a step below 1e-6 leaves ~1e-12; bisection steps stop at a bracket narrower than 1e-10.
NEWTON_TOL = 1e-6
BRACKET_TOL = 1e-10
MAX_ITER = 100
ALPHA_MAX = 1e12  # a bound on the search, far above any count data's α
POISSON_LIMIT = "alpha = 0: the fit reached the Poisson limit"


class NegativeBinomial(Family):
    """y ~ NB2(μ, α): mean μ = ŷ, Var = μ + αμ², α ≥ 0; y ∈ {0, 1, 2, …}.

    Equals scipy.stats.nbinom(n = 1/α, p = 1/(1 + αμ)); α = 0 is the Poisson(μ) limit.
    Conditional: α̂ by Newton on the score in log α (μ fixed), α̂ = 0 where the score at
    α = 0+, Σ w((y − μ)² − y)/2, is ≤ 0 (no over-dispersion). Marginal: μ̂ = Σ w y / W exactly
    (the NB2 mean's MLE for every α), then α̂ as above. Minimising it over μ with α fixed is
    the NB NLL loss.
    """

    name = "negative_binomial"
    loss = "NB NLL (negative binomial)"
    support = COUNTS
    pred_domain = NONNEGATIVE
    discrete = True
    measure = COUNTING
    prediction = "mean"
    nuisance = ("alpha",)
    marginal_params = ("mean", "alpha")
    param_domains = {"alpha": "nonnegative"}
    location = "mean"
    applies_to = ("binary", "count")
    nests = (Nesting("poisson", "alpha", 0.0),)
    spread = ("alpha", "scale")
    log_params = ("alpha",)  # α ≥ 0, and a column of log α gives α > 0
    # No built-in NB loss in any of the four (checked against their docs): torch.nn has
    # PoissonNLLLoss and GaussianNLLLoss only (torch.distributions.NegativeBinomial is a
    # distribution, not a loss); HistGradientBoostingRegressor's losses are squared_error,
    # absolute_error, gamma, poisson, quantile; XGBoost's count objective is count:poisson
    # (plus reg:gamma, reg:tweedie); LightGBM's are poisson, gamma, tweedie.
    frameworks = Frameworks(pytorch=None, sklearn=None, xgboost=None, lightgbm=None)

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        if np.ndim(params["alpha"]):
            return _loglik_rows(y, pred, params["alpha"])
        alpha = float(params["alpha"])
        if alpha == 0.0:
            ll = xlogy(y, pred)
            ll -= pred
            ll -= gammaln_int(y)
            return ll
        ll = _rising_minus_factorial(y, alpha)
        ll += xlogy(y, pred)
        # (y + r) log(1 + αμ); log1p keeps r·log(1 + αμ) → μ accurate as α → 0
        ll -= (y + 1.0 / alpha) * np.log1p(alpha * np.asarray(pred, dtype=np.float64))
        return ll

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        if pred is None:
            mean = wmean(y, w)
            return {"mean": mean, "alpha": fit_alpha(y, w, np.full(y.shape, mean))}
        return {"alpha": fit_alpha(y, w, np.asarray(pred, dtype=np.float64))}

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """Marginal, α a float: μ = Σ w y / W (the NB2 mean's MLE for every α); μ given:
        α̂ by today's fit at ŷ = μ. (μ with α per row needs the optimiser: None.)"""
        if pred is not None:
            return None
        if free == ("mean",) and np.ndim(given["alpha"]) == 0:
            return {"mean": wmean(y, w)}
        if free == ("alpha",):
            return {"alpha": fit_alpha(y, w, np.full(y.shape, float(given["mean"])))}
        return None

    def fit_warnings(self, params: Params) -> list[str]:
        """The Poisson limit of a fitted α (an α given per row or held is not a fit:
        none)."""
        alpha = params.get("alpha")
        return [POISSON_LIMIT] if np.ndim(alpha) == 0 and alpha == 0.0 else []

    # diagnostics
    pit_method = "nonrandomized"
    decomposition = "nll"
    calibration = True
    dispersion_test = "pearson"
    zero_test = True
    rootogram = True
    recurrence_scalars = ("alpha",)  # (k − 1 + 1/α)/k is one factor per k only at one α

    def cdf(self, k: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """P(Y ≤ k) = I_p(r, k + 1), p = 1/(1 + αμ) (Poisson's at α = 0; 0 for k < 0);
        α per row: each row by its own form."""
        k = np.asarray(k, dtype=np.float64)
        if np.ndim(params["alpha"]):
            alpha = params["alpha"]
            mu = np.broadcast_to(np.asarray(pred, dtype=np.float64), alpha.shape)
            kk = np.broadcast_to(np.maximum(k, 0.0), alpha.shape)
            f = np.empty(alpha.shape)
            zero = alpha == 0.0
            f[zero] = special.pdtr(kk[zero], mu[zero])
            pos = ~zero
            a = alpha[pos]
            f[pos] = special.betainc(1.0 / a, kk[pos] + 1.0, 1.0 / (1.0 + a * mu[pos]))
            return np.where(k < 0, 0.0, f)
        alpha = float(params["alpha"])
        if alpha == 0.0:
            f = special.pdtr(np.maximum(k, 0.0), pred)
        else:
            p = 1.0 / (1.0 + alpha * np.asarray(pred, dtype=np.float64))
            f = special.betainc(1.0 / alpha, np.maximum(k, 0.0) + 1.0, p)
        return np.where(k < 0, 0.0, f)

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        alpha = params["alpha"]
        return f + (alpha if np.ndim(alpha) else float(alpha)) * f * f

    def zero_probability(self, pred: Any, params: Params) -> np.ndarray:
        """(1 + αμ)^(−1/α), e^(−μ) at α = 0 (per row where α is)."""
        mu = np.asarray(pred, dtype=np.float64)
        if np.ndim(params["alpha"]):
            alpha = params["alpha"]
            zero = alpha == 0.0
            with np.errstate(divide="ignore", invalid="ignore"):
                nb = np.exp(-np.log1p(alpha * mu) / alpha)
            return np.where(zero, np.exp(-mu), nb)
        alpha = float(params["alpha"])
        if alpha == 0.0:
            return np.exp(-mu)
        return np.exp(-np.log1p(alpha * mu) / alpha)

    def pmf_recurrence(self, pred: Any, params: Params) -> tuple[np.ndarray, np.ndarray, Any]:
        """P(Y = 0) = (1 + αμ)^(−r), P(Y = k) = P(Y = k − 1) · (k − 1 + r)/k · αμ/(1 + αμ)
        (Poisson's at α = 0). Needs a scalar α: with α per row the factor (k − 1 + r)/k
        is not one scalar per k, which the recurrence's contract requires."""
        if np.ndim(params["alpha"]):
            raise ValueError("the negative binomial pmf recurrence needs a scalar α "
                             "(α is given per row)")
        alpha = float(params["alpha"])
        mu = np.asarray(pred, dtype=np.float64)
        if alpha == 0.0:
            return np.exp(-mu), mu, lambda k: 1.0 / k
        r = 1.0 / alpha
        am = alpha * mu
        return np.exp(-np.log1p(am) * r), am / (1.0 + am), lambda k: (k - 1.0 + r) / k

    def recalibrated_score(self, rc, sw, mean, m2, terms, W, value_counts) -> float:
        """min over α of the mean NB nll at the means rc: Σ_k c_k [A(k, α) − log k!] from
        the target's value counts, plus per group Σwy·log μ − (Σwy + r Σw)·log(1 + αμ)."""
        if value_counts is None:
            return math.nan
        values, counts = value_counts
        st = sw * mean
        fact = float(np.dot(counts, gammaln_int(values)))
        base = special.xlogy(st, rc).sum()

        def nll(theta: float) -> float:
            if theta == -math.inf:
                return float((fact - base + (sw * rc).sum()) / W)
            alpha = math.exp(theta)
            ll = float(np.dot(counts, log_rising(values, alpha))) - fact + base
            ll -= float(((st + sw / alpha) * np.log1p(alpha * rc)).sum())
            return -ll / W

        _, best = optimize.minimize_bounded(nll, -25.0, math.log(ALPHA_MAX) / 2, xatol=1e-10)
        return min(best, nll(-math.inf))

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        alpha = params["alpha"]
        if np.ndim(alpha) == 0 and alpha == 0.0:
            return stats.poisson(mu=pred)
        # α per row must be > 0 on every row here (scipy's nbinom has no n = ∞)
        return stats.nbinom(n=1.0 / alpha, p=1.0 / (1.0 + alpha * np.asarray(pred)))

    # -- proper scores (SPEC §8.3): on the counting measure
    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """Σ_k (F(k) − 1{y ≤ k})² (`nb_sums.negative_binomial`; Poisson's at α = 0)."""
        return nb_sums.negative_binomial(y, pred, params["alpha"])

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """min{k : F(k) ≥ q} (`nb_sums.nb_ppf`)."""
        return nb_sums.nb_ppf(q, pred, params["alpha"])

    def ppf_levels(self, qs: Any, pred: Any, params: Params) -> list[np.ndarray]:
        """`ppf` at every level of qs in one pass (`nb_sums.nb_ppf_levels`)."""
        return nb_sums.nb_ppf_levels(qs, pred, params["alpha"])


# ------------------------------------------------------------------ A(y, α) = Σ_{j<y} log(1 + αj)


def log_rising(k: np.ndarray, alpha: float) -> np.ndarray:
    """A(k, α) = log Γ(k + r) − log Γ(r) + k log α = Σ_{j<k} log(1 + αj), r = 1/α > 0;
    α may be an array aligned with k (the form chosen per row)."""
    k = np.asarray(k, dtype=np.float64)
    if np.ndim(alpha):
        alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), k.shape)
        # A(0, α) = A(1, α) = 0 (an empty sum, log 1): on count data these rows are often
        # half of all, and the two log Γ a row below are most of the per-row likelihood's cost
        some = np.flatnonzero(k >= 2)
        if some.size < k.size:
            out = np.zeros(k.shape)
            out[some] = log_rising(k[some], alpha[some])
            return out
        short = (k <= PRODUCT_MAX) & (alpha < 1e20)
        if short.all():
            return log_rising_product(k, alpha)
        if short.any():  # most counts are small: one log of at most 11 factors
            out = np.empty(k.shape)
            out[short] = log_rising_product(k[short], alpha[short])
            rest = ~short
            if rest.any():
                out[rest] = log_rising(k[rest], alpha[rest])
            return out
        small = 1.0 / alpha < STIRLING_R
        if small.all():
            return _log_rising_gammaln(k, alpha)
        out = np.empty(k.shape)
        out[small] = _log_rising_gammaln(k[small], alpha[small])
        big = ~small
        kb, ab = k[big], alpha[big]
        r = 1.0 / ab
        out[big] = ((kb + r - 0.5) * np.log1p(kb * ab) - kb + stirling_series(kb + r)
                    - stirling_series(r))
        return out
    r = 1.0 / alpha
    if r < STIRLING_R:
        return special.gammaln(k + r) - special.gammaln(r) + k * math.log(alpha)
    # log Γ(z) = (z − ½) log z − z + ½ log 2π + δ(z): the log z terms combine into
    # (k + r − ½) log(1 + kα) − k, which has no large cancelling terms
    return (k + r - 0.5) * np.log1p(k * alpha) - k + stirling_series(k + r) - stirling_series(r)


def log_rising_product(k: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """A(k, α) = log Π_{1≤j<k}(1 + αj) per row, for 2 ≤ k ≤ PRODUCT_MAX and α < 1e20 (no
    overflow): at most 2(k − 1) roundings of the product, so A is within ~2.5e-15 of the
    exact sum (absolute), where log Γ(k + r) − log Γ(r) loses the digits of log Γ(r).
    The rows are ordered by k, largest first (a radix sort of small integers), so that
    the factor 1 + αj multiplies a leading slice: Σ(k − 1) products in all."""
    kk = k.astype(np.int8)
    order = np.argsort(-kk, kind="stable")
    at_least = np.bincount(kk, minlength=PRODUCT_MAX + 2)[::-1].cumsum()[::-1]  # k ≥ j
    a = alpha[order]
    prod = a + 1.0
    factor = np.empty_like(prod)
    for j in range(2, PRODUCT_MAX):
        m = int(at_least[j + 1])  # the rows with k > j
        if m == 0:
            break
        np.multiply(a[:m], float(j), out=factor[:m])
        factor[:m] += 1.0
        prod[:m] *= factor[:m]
    out = np.empty_like(prod)
    out[order] = np.log(prod)
    return out


def _log_rising_gammaln(k: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    r = 1.0 / alpha
    return special.gammaln(k + r) - special.gammaln(r) + k * np.log(alpha)


def _loglik_rows(y: np.ndarray, pred: Any, alpha: np.ndarray) -> np.ndarray:
    """`loglik` with α per row: the Poisson log-pmf on the rows where α = 0, elsewhere
    A(y, α) + y log μ − (y + r) log(1 + αμ) − log Γ(y + 1), A by the same two forms as
    `log_rising`, chosen per row."""
    y = np.asarray(y, dtype=np.float64)
    mu = np.broadcast_to(np.asarray(pred, dtype=np.float64), y.shape)
    alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), y.shape)
    ll = xlogy(y, mu)
    ll -= gammaln_int(y)
    zero = alpha == 0.0
    if not zero.any():  # the usual case: no row subsets to copy
        ll += log_rising(y, alpha)
        ll -= (y + 1.0 / alpha) * np.log1p(alpha * mu)
        return ll
    ll[zero] -= mu[zero]
    pos = ~zero
    a, k, m = alpha[pos], y[pos], mu[pos]
    ll[pos] += log_rising(k, a) - (k + 1.0 / a) * np.log1p(a * m)
    return ll


def _rising_minus_factorial(y: np.ndarray, alpha: float) -> np.ndarray:
    """A(y, α) − log Γ(y + 1) per row: a table lookup when the range of y is small."""
    top = float(y.max()) if y.size else 0.0
    if top < 1_000_000 and y.size > 10_000:
        k = np.arange(int(top) + 1, dtype=np.float64)
        table = log_rising(k, alpha) - gammaln_int(k)
        return table[y.astype(np.int64)]
    return log_rising(y, alpha) - gammaln_int(y)


# ------------------------------------------------------------------ the α fit


def fit_alpha(y: np.ndarray, w: np.ndarray | None, mu: np.ndarray) -> float:
    """Weighted MLE of α ≥ 0 given the means μ_i.

    ℓ(α) = Σ w A(y, α) − Σ w (y + r) log(1 + αμ) + const. The first sum depends on y only
    through its weighted histogram c_k: Σ_k c_k A(k, α) = Σ_j T_j log(1 + αj) with the tail
    weights T_j = Σ_{k>j} c_k, so its derivatives cost O(max y). The second needs one pass
    over the rows (a log and a division) per Newton step. Newton runs on log α from the
    method-of-moments estimate α₀ = Σ w((y − μ)² − y) / Σ w μ², kept inside a bracket of
    the score's sign; it typically needs 2–4 steps.
    """
    if mu.size and not float(mu.min()) > 0.0:
        # a row with y > 0 at μ = 0 has probability 0 for every α: it says nothing about α
        # (and scoring reports it), so the fit leaves it out
        keep = (mu > 0.0) | (y == 0.0)
        if not keep.all():
            y, mu, w = y[keep], mu[keep], None if w is None else w[keep]
    if not total_weight(y.size, w) > 0.0:
        return 0.0
    resid = y - mu
    resid *= resid
    resid -= y
    excess = _wdot(w, resid)  # 2 × the score at α = 0+
    del resid
    if not excess > 0.0:
        return 0.0  # no over-dispersion: the likelihood is maximised at the Poisson limit
    spread = _wdot(w, mu * mu)  # > 0: were every μ 0, only y = 0 rows would be left
    values, counts = value_counts(y, w)
    if not counts[values > 0].sum() > 0.0:
        raise FitError("every target is 0 while some predicted means are not, so the "
                       "likelihood grows without bound as α → ∞")
    hist = _Histogram(values, counts)
    rows = _MeanTerms(y, w, mu)
    scale = (1.0 + max(float(values[-1]), rows.mu_max)) ** 2
    theta_floor = math.log(NEGLIGIBLE / scale)
    theta_ceiling = math.log(ALPHA_MAX)

    def score(theta: float) -> tuple[float, float]:
        """g = α ℓ'(α) and dg/dθ = g + α² ℓ''(α), at α = e^θ."""
        alpha = math.exp(theta)
        h1, h2 = hist.derivatives(alpha)
        m1, m2 = rows.derivatives(alpha)
        g = alpha * (h1 + m1)
        return g, g + alpha * alpha * (h2 + m2)

    theta = min(max(math.log(excess / spread), theta_floor), theta_ceiling)
    # Newton where ℓ is concave; otherwise a walk towards the sign change
    theta, status = optimize.newton_root(score, theta, theta_floor, theta_ceiling,
                                         tol=NEWTON_TOL, bracket_tol=BRACKET_TOL,
                                         max_step=3.0, max_iter=MAX_ITER)
    if status == optimize.BELOW:
        return 0.0  # α̂ below the level where NB2 differs from Poisson in any row
    if status == optimize.ABOVE:
        raise FitError(f"the over-dispersion α exceeds {ALPHA_MAX:g}: the counts are "
                       "too dispersed for a negative binomial with these means")
    if status == optimize.NOT_FINITE:
        raise FitError("the negative binomial score is not finite")
    if status == optimize.NOT_CONVERGED:
        raise FitError("the negative binomial α fit did not converge")
    return math.exp(theta)


def _wdot(w: np.ndarray | None, x: np.ndarray) -> float:
    return float(np.sum(x)) if w is None else float(np.dot(w, x))


class _Histogram:
    """Derivatives in α of Σ_k c_k A(k, α) over the weighted histogram of y."""

    def __init__(self, values: np.ndarray, counts: np.ndarray) -> None:
        top = float(values[-1])
        self.tail = top <= TAIL_SUM_MAX
        if self.tail:
            c = np.zeros(int(top) + 1)
            c[values.astype(np.int64)] = counts
            tail = np.cumsum(c[::-1])[::-1]  # tail[j] = Σ_{k≥j} c_k
            self.j = np.arange(1.0, top)  # j = 0 adds nothing
            self.t = tail[2:]  # T_j = Σ_{k>j} c_k = tail[j + 1]
        else:
            keep = values > 0
            self.k, self.c = values[keep], counts[keep]

    def derivatives(self, alpha: float) -> tuple[float, float]:
        """(Σ c A', Σ c A''), A' = Σ_{j<k} j/(1 + αj), A'' = −Σ_{j<k} j²/(1 + αj)²."""
        if self.tail:
            v = self.j / (1.0 + alpha * self.j)
            tv = self.t * v
            return float(np.sum(tv)), -float(np.dot(tv, v))
        # very large counts: digamma/trigamma sums over the distinct values
        r = 1.0 / alpha
        k, c = self.k, self.c
        dpsi = special.digamma(k + r) - special.digamma(r)
        d1 = r * (k - r * dpsi)
        sq = k - 2.0 * r * dpsi + r * r * (special.polygamma(1, r) - special.polygamma(1, k + r))
        return float(np.dot(c, d1)), -r * r * float(np.dot(c, sq))


class _MeanTerms:
    """Derivatives in α of −Σ w (y + r) log(1 + αμ), one pass over the rows each.

    With x = αμ and d(x) = log(1 + x) − x/(1 + x):
    first derivative  r² Σ w d(x) − Σ w y μ/(1 + x),
    second derivative r³ Σ w (x²/(1 + x)² − 2 d(x)) + Σ w y μ²/(1 + x)².
    """

    # d(x)/x² = Σ_{k≥2} (−1)^k (k−1)/k x^(k−2);  e(x)/x³ = Σ_{k≥3} (−1)^k (k−1)(k−2)/k x^(k−3)
    D_SERIES = [(-1) ** k * (k - 1) / k for k in range(2, 9)]
    E_SERIES = [(-1) ** k * (k - 1) * (k - 2) / k for k in range(3, 10)]

    def __init__(self, y: np.ndarray, w: np.ndarray | None, mu: np.ndarray) -> None:
        self.w, self.mu = w, mu
        self.wy = y if w is None else w * y
        self.mu_max = float(mu.max()) if mu.size else 0.0
        self.x = np.empty_like(mu)
        self.u = np.empty_like(mu)
        self.q = np.empty_like(mu)

    def derivatives(self, alpha: float) -> tuple[float, float]:
        w, wy, x, u, q = self.w, self.wy, self.x, self.u, self.q
        np.multiply(self.mu, alpha, out=x)
        np.add(x, 1.0, out=u)
        if alpha * self.mu_max < SERIES_X:
            return self._series(alpha)
        np.divide(x, u, out=q)  # x/(1 + x)
        s_yq = float(np.dot(wy, q))
        # log(1 + x) = log(u) + (x − (u − 1))/u, u = fl(1 + x): as accurate as log1p (1 ulp)
        # at half its cost, since numpy's log is vectorised and its log1p is not. Each
        # step is exact in place: u − 1, then x − (u − 1), then + 1 restores u.
        u -= 1.0
        x -= u
        u += 1.0
        x /= u
        np.log(u, out=u)
        u += x
        u -= q  # d(x)
        s_d = _wdot(w, u)
        np.multiply(q, q, out=x)
        s_q2 = _wdot(w, x)
        s_yq2 = float(np.dot(wy, x))
        r = 1.0 / alpha
        first = r * r * s_d - r * s_yq
        second = r * r * r * (s_q2 - 2.0 * s_d) + r * r * s_yq2
        return first, second

    def _series(self, alpha: float) -> tuple[float, float]:
        """Small x: r² d(x) = μ² D(x) and r³ e(x) = μ³ E(x) from their Taylor series."""
        w, wy, mu, x, u, q = self.w, self.wy, self.mu, self.x, self.u, self.q
        np.divide(mu, u, out=q)  # μ/(1 + x)
        s_yv = float(np.dot(wy, q))
        q *= q
        s_yv2 = float(np.dot(wy, q))
        mu2 = mu * mu
        np.multiply(mu2, _horner(self.D_SERIES, x, u), out=q)
        s_d = _wdot(w, q)
        np.multiply(mu2, _horner(self.E_SERIES, x, u), out=q)
        q *= mu
        s_e = _wdot(w, q)
        return s_d - s_yv, s_e + s_yv2


def _horner(coef: list[float], x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Σ_i coef[i] x^i into `out`."""
    out.fill(coef[-1])
    for c in reversed(coef[:-1]):
        out *= x
        out += c
    return out
