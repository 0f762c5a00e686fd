"""negative_binomial (NB2) against independent oracles.

Oracles: scipy.stats.nbinom(n = 1/α, p = 1/(1 + αμ)) and scipy.stats.poisson; statsmodels'
NegativeBinomial (nb2) for the marginal MLE; scipy.optimize.minimize_scalar on scipy.stats
log-likelihood sums for the conditional MLE; and, where α is so small that scipy's own
formula loses digits, a 60-digit `decimal` evaluation of the pmf written out here from
Γ(y + r)/Γ(r) = Π_{j<y} (r + j):

    log q = Σ_{j<y} log(1 + αj) + y log μ − (y + 1/α) log(1 + αμ) − log y!
"""

from __future__ import annotations

import math
import warnings
from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats
from statsmodels.discrete.discrete_model import NegativeBinomial as SMNegativeBinomial

from losscli.errors import FitError
from losscli.noise import negative_binomial as nbm
from losscli.noise.negative_binomial import POISSON_LIMIT, NegativeBinomial
from losscli.noise.sums import value_counts

RTOL_LL = 1e-9
RTOL_FIT = 1e-4

fam = NegativeBinomial()


def nb_data(rng, n: int, alpha: float, log_mean: float = math.log(2.5), sd: float = 0.8):
    mu = np.exp(rng.normal(log_mean, sd, n))
    r = 1.0 / alpha
    y = rng.negative_binomial(r, r / (r + mu)).astype(np.float64)
    return y, mu


def scipy_nll(y, mu, alpha, w=None) -> float:
    ll = stats.nbinom(n=1.0 / alpha, p=1.0 / (1.0 + alpha * mu)).logpmf(y)
    return -float(np.sum(ll if w is None else w * ll))


def scipy_alpha_mle(y, mu, w=None, lo=1e-4, hi=1e2) -> float:
    """The conditional MLE by a bounded search on log α over scipy.stats' likelihood."""
    res = optimize.minimize_scalar(
        lambda t: scipy_nll(y, mu, math.exp(t), w), bounds=(math.log(lo), math.log(hi)),
        method="bounded", options={"xatol": 1e-10})
    assert res.success
    assert math.log(lo) + 1e-6 < res.x < math.log(hi) - 1e-6  # an interior optimum
    return math.exp(res.x)


def hp_logpmf(y: int, mu: float, alpha: float) -> float:
    """log q from the product form above, to 60 digits (log y! by math.lgamma)."""
    with localcontext() as ctx:
        ctx.prec = 60
        a, m = Decimal(alpha), Decimal(mu)
        rising = sum(((1 + a * j).ln() for j in range(1, y)), Decimal(0))
        value = rising + y * m.ln() - (y + 1 / a) * (1 + a * m).ln()
        return float(value) - math.lgamma(y + 1)


# ------------------------------------------------------------------ declared facts


def test_declared_facts():
    assert fam.name == "negative_binomial"
    assert fam.loss == "NB NLL (negative binomial)"
    assert fam.nuisance == ("alpha",) and fam.marginal_params == ("mean", "alpha")
    assert fam.location == "mean" and fam.prediction == "mean" and fam.discrete
    assert fam.support.contains(np.array([0.0, 3.0, -1.0, 2.5])).tolist() == [
        True, True, False, False]
    fw = fam.frameworks
    assert (fw.pytorch, fw.sklearn, fw.xgboost, fw.lightgbm) == (None, None, None, None)


def test_to_scipy_is_nb2_mean_and_variance():
    mu, alpha = np.array([0.5, 2.5, 40.0]), 0.3
    d = fam.to_scipy(mu, {"alpha": alpha})
    np.testing.assert_allclose(d.mean(), mu, rtol=1e-12)
    np.testing.assert_allclose(d.var(), mu + alpha * mu**2, rtol=1e-12)


# ------------------------------------------------------------------ log-likelihood


@pytest.mark.parametrize("alpha", [0.02, 0.7, 3.0, 60.0])
def test_loglik_matches_scipy_conditional(rng, alpha):
    y, mu = nb_data(rng, 3000, alpha)
    y[:3], mu[:3] = [0.0, 5.0, 300.0], [0.0, 1e4, 0.5]
    got = fam.loglik(y, mu, {"alpha": alpha})
    ref = stats.nbinom(n=1.0 / alpha, p=1.0 / (1.0 + alpha * mu)).logpmf(y)
    np.testing.assert_allclose(got, ref, rtol=RTOL_LL)
    assert got[0] == 0.0  # μ = 0 puts all mass on y = 0
    # tiny μ: log q(0) = −log(1 + αμ)/α, where scipy's r·log p keeps only ~8 digits
    tiny = fam.loglik(np.zeros(1), np.array([1e-8]), {"alpha": alpha})[0]
    assert tiny == pytest.approx(-math.log1p(alpha * 1e-8) / alpha, rel=1e-14)


def test_loglik_matches_scipy_marginal_scalar_mean():
    y = np.arange(0.0, 60.0)
    params = {"mean": 7.5, "alpha": 0.4}
    got = fam.loglik(y, fam.marginal_pred(params), params)
    np.testing.assert_allclose(got, fam.to_scipy(7.5, params).logpmf(y), rtol=RTOL_LL)
    np.testing.assert_allclose(
        got, stats.nbinom(n=2.5, p=1.0 / (1.0 + 0.4 * 7.5)).logpmf(y), rtol=RTOL_LL)


@settings(max_examples=60, deadline=None)
@given(y=st.integers(0, 400), mu=st.floats(1e-3, 1e3), alpha=st.floats(1e-2, 1e2))
def test_loglik_matches_scipy_property(y, mu, alpha):
    got = fam.loglik(np.array([float(y)]), np.array([mu]), {"alpha": alpha})[0]
    ref = stats.nbinom(n=1.0 / alpha, p=1.0 / (1.0 + alpha * mu)).logpmf(y)
    assert got == pytest.approx(ref, rel=RTOL_LL, abs=1e-12)


def test_loglik_at_alpha_zero_is_poisson(rng):
    y, mu = nb_data(rng, 500, 0.5)
    got = fam.loglik(y, mu, {"alpha": 0.0})
    np.testing.assert_allclose(got, stats.poisson(mu).logpmf(y), rtol=RTOL_LL)
    assert fam.to_scipy(mu, {"alpha": 0.0}).logpmf(y) == pytest.approx(got, rel=RTOL_LL)


@pytest.mark.parametrize("alpha", [1e-300, 1e-14, 1e-9, 1e-6, 1e-4, 1e-2, 0.099, 0.101, 0.5])
def test_loglik_small_alpha_is_exact_and_tends_to_poisson(alpha):
    # both sides of the switch to Stirling's series at r = 1/α = 10; scipy's own formula
    # loses ~eps·r·log r, so the reference is the 60-digit product form
    y = np.array([0, 1, 2, 7, 30, 150], dtype=np.float64)
    mu = np.array([0.3, 1.0, 4.0, 7.5, 25.0, 140.0])
    got = fam.loglik(y, mu, {"alpha": alpha})
    # first order in α: log q − log q_Poisson = α((y − μ)² − y)/2 + O(α²)
    first_order = stats.poisson(mu).logpmf(y) + alpha * ((y - mu) ** 2 - y) / 2
    if alpha <= 1e-9:
        np.testing.assert_allclose(got, first_order, rtol=1e-13)
    if alpha >= 1e-14:  # (1 + αμ at 60 digits needs α ≳ 1e-50)
        ref = [hp_logpmf(int(k), float(m), alpha) for k, m in zip(y, mu, strict=True)]
        np.testing.assert_allclose(got, ref, rtol=1e-13)


@pytest.mark.parametrize("mu, alpha", [(0.2, 0.05), (3.0, 1.0), (40.0, 0.01), (5.0, 20.0)])
def test_pmf_sums_to_one(mu, alpha):
    y = np.arange(0.0, 20000.0)
    assert float(np.exp(fam.loglik(y, mu, {"alpha": alpha})).sum()) == pytest.approx(1.0, abs=1e-12)


def test_log_rising_paths_agree():
    """A(k, α) = Σ_{j<k} log(1 + αj), summed exactly here, on both sides of STIRLING_R.

    Absolute error up to a few ulp of k is allowed: A enters log q beside y log μ, whose own
    rounding is of that size (Stirling's form cancels a k in (k + r − ½) log(1 + kα) − k).
    """
    k = np.array([0.0, 1.0, 2.0, 10.0, 500.0])
    for alpha in (1e-7, 1e-4, 0.05, 0.0999, 0.1001, 0.3, 4.0):
        ref = np.array([math.fsum(math.log1p(alpha * j) for j in range(int(n))) for n in k])
        err = np.abs(nbm.log_rising(k, alpha) - ref)
        assert np.all(err <= 1e-13 * np.abs(ref) + 4 * np.finfo(float).eps * k)


@pytest.mark.parametrize("ks, alphas", [
    ([0.0, 1.0, 2.0, 10.0, 500.0, 1.0, 3.0], [0.3, 1e-4, 0.05, 4.0, 0.3, 7.0, 1e-7]),
    ([2.0, 3.0, 10.0, 500.0], [0.3, 4.0, 0.15, 1.0]),      # every row k ≥ 2, r < STIRLING_R
    ([2.0, 3.0, 10.0, 500.0], [1e-4, 4.0, 0.0999, 0.1001]),  # k ≥ 2, both forms
    ([0.0, 1.0, 0.0], [0.3, 1e-4, 4.0]),                     # A = 0 on every row
])
def test_log_rising_per_row_alpha_is_the_sum(ks, alphas):
    """α per row: each row's A(k, α) equals the exactly summed Σ_{j<k} log(1 + αj)."""
    k, alpha = np.array(ks), np.array(alphas)
    ref = np.array([math.fsum(math.log1p(a * j) for j in range(int(n)))
                    for n, a in zip(ks, alphas, strict=True)])
    err = np.abs(nbm.log_rising(k, alpha) - ref)
    assert np.all(err <= 1e-13 * np.abs(ref) + 4 * np.finfo(float).eps * k)


def test_log_rising_product_in_any_row_order_is_the_sum(rng):
    """The product form (rows ordered by k inside, every 2 ≤ k ≤ PRODUCT_MAX, in a
    shuffled order with ties) equals the exactly summed Σ_{j<k} log(1 + αj) row by row."""
    k = rng.integers(2, nbm.PRODUCT_MAX + 1, 5000).astype(np.float64)
    alpha = np.exp(rng.normal(-1.0, 2.0, k.size))
    ref = np.array([math.fsum(math.log1p(a * j) for j in range(int(n)))
                    for n, a in zip(k, alpha, strict=True)])
    err = np.abs(nbm.log_rising_product(k, alpha) - ref)
    assert np.all(err <= 1e-13 * np.abs(ref) + 4 * np.finfo(float).eps * k)


def test_xlogy_is_scipys():
    """logspace.xlogy: numpy's log where every y is positive and finite, scipy's xlogy
    elsewhere (0 · log 0 = 0, infinities, scalars), equal to it within an ulp or two."""
    from scipy import special

    from losscli.noise.logspace import xlogy

    rng = np.random.default_rng(5)
    x = rng.poisson(3.0, 1000).astype(np.float64)
    y = np.exp(rng.normal(0.0, 3.0, 1000))
    np.testing.assert_allclose(xlogy(x, y), special.xlogy(x, y), rtol=4e-16, atol=1e-300)
    for yy in (np.where(x == 0.0, 0.0, y), np.where(x == 0.0, np.inf, y)):
        np.testing.assert_array_equal(xlogy(x, yy), special.xlogy(x, yy))
    assert xlogy(0.0, 0.0) == 0.0
    assert xlogy(2.0, 3.0) == pytest.approx(2.0 * math.log(3.0), rel=1e-15)
    np.testing.assert_allclose(xlogy(2.0, y), special.xlogy(2.0, y), rtol=4e-16)


def test_per_row_alpha_without_zeros_matches_scipy(rng):
    """α per row, all positive (no Poisson rows): the log-pmf of scipy's nbinom row by row."""
    mu = np.exp(rng.normal(1.0, 0.8, 3000))
    alpha = np.exp(rng.normal(-0.5, 1.5, 3000))
    y = rng.poisson(mu * rng.gamma(1.0 / alpha, alpha)).astype(np.float64)
    r = 1.0 / alpha
    ref = stats.nbinom.logpmf(y, r, r / (r + mu))
    np.testing.assert_allclose(fam.loglik(y, mu, {"alpha": alpha}), ref, rtol=RTOL_LL)


# ------------------------------------------------------------------ conditional fit


@pytest.mark.parametrize("alpha", [0.15, 1.0, 4.0])
def test_conditional_fit_matches_scipy_mle(rng, alpha):
    y, mu = nb_data(rng, 1500, alpha)
    params = fam.fit(y, None, mu)
    assert set(params) == {"alpha"}
    assert params["alpha"] == pytest.approx(scipy_alpha_mle(y, mu), rel=RTOL_FIT)
    assert fam.fit_warnings(params) == []
    assert fam.n_params(params, conditional=True) == 1


def test_conditional_fit_weighted_matches_scipy_mle(rng):
    y, mu = nb_data(rng, 1200, 0.6)
    w = rng.integers(1, 5, y.size).astype(np.float64)
    got = fam.fit(y, w, mu)["alpha"]
    assert got == pytest.approx(scipy_alpha_mle(y, mu, w), rel=RTOL_FIT)
    # and not the unweighted answer
    assert got != pytest.approx(scipy_alpha_mle(y, mu), rel=RTOL_FIT)


def test_weights_equal_repetition(rng):
    y, mu = nb_data(rng, 800, 0.8)
    w = rng.integers(0, 4, y.size).astype(np.float64)
    wi = w.astype(np.int64)
    a_w = fam.fit(y, w, mu)["alpha"]
    a_rep = fam.fit(np.repeat(y, wi), None, np.repeat(mu, wi))["alpha"]
    assert a_w == pytest.approx(a_rep, rel=1e-10)
    m_w = fam.fit(*value_counts(y, w))
    m_rep = fam.fit(*value_counts(np.repeat(y, wi), None))
    assert m_w["mean"] == pytest.approx(m_rep["mean"], rel=1e-12)
    assert m_w["alpha"] == pytest.approx(m_rep["alpha"], rel=1e-10)


def test_conditional_fit_on_ten_thousand_rows_uses_the_histogram_tables(rng):
    # > 10k rows: loglik takes its table path; the fit is the same MLE
    y, mu = nb_data(rng, 20_000, 2.0)
    params = fam.fit(y, None, mu)
    assert params["alpha"] == pytest.approx(scipy_alpha_mle(y, mu), rel=RTOL_FIT)
    got = fam.loglik(y, mu, params)
    np.testing.assert_allclose(got, fam.to_scipy(mu, params).logpmf(y), rtol=RTOL_LL)


def test_fit_paths_agree(rng, monkeypatch):
    """Tail sums vs digamma sums over the histogram, Taylor series vs direct μ-terms."""
    y, mu = nb_data(rng, 2000, 0.5)
    base = fam.fit(y, None, mu)["alpha"]
    monkeypatch.setattr(nbm, "TAIL_SUM_MAX", 0)
    assert fam.fit(y, None, mu)["alpha"] == pytest.approx(base, rel=1e-9)
    monkeypatch.undo()
    # near-Poisson data: α̂ μ_max < SERIES_X, so the series is the default path
    y, w, mu = near_poisson_data()
    series = fam.fit(y, w, mu)["alpha"]
    assert series * mu.max() < nbm.SERIES_X
    monkeypatch.setattr(nbm, "SERIES_X", 0.0)
    assert fam.fit(y, w, mu)["alpha"] == pytest.approx(series, rel=1e-6)


def near_poisson_data():
    """Counts at μ = 4 whose excess Σ w((y − μ)² − y) is 2: barely over-dispersed."""
    y = np.array([1.0, 3.0, 4.0, 5.0, 8.0])
    w = np.array([200.0, 259.0, 500.0, 250.0, 240.0])
    mu = np.full(y.size, 4.0)
    assert float(np.dot(w, (y - mu) ** 2 - y)) == 2.0
    return y, w, mu


def test_near_poisson_fit_matches_high_precision_mle():
    y, w, mu = near_poisson_data()
    got = fam.fit(y, w, mu)["alpha"]

    def gain(alpha: float) -> float:  # Σ w (log q_NB − log q_Poisson), to 60 digits
        with localcontext() as ctx:
            ctx.prec = 60
            a, total = Decimal(alpha), Decimal(0)
            for k, c, m in zip(y.astype(int).tolist(), w, mu, strict=True):
                dm = Decimal(float(m))
                rising = sum(((1 + a * j).ln() for j in range(1, int(k))), Decimal(0))
                row = rising - (k + 1 / a) * (1 + a * dm).ln() + dm
                total += Decimal(float(c)) * row
            return float(total)

    res = optimize.minimize_scalar(lambda t: -gain(math.exp(t)), bounds=(-14.0, -6.0),
                                   method="bounded", options={"xatol": 1e-9})
    assert -14.0 + 1e-6 < res.x < -6.0 - 1e-6
    assert got == pytest.approx(math.exp(res.x), rel=RTOL_FIT)
    assert gain(got) > 0.0


def test_conditional_boundary_alpha_zero_on_underdispersed_data(rng):
    mu = np.exp(rng.normal(math.log(2.5), 0.8, 1000))
    y = np.round(mu)  # Var(y | μ) ≈ 1/12 < μ
    params = fam.fit(y, None, mu)
    assert params == {"alpha": 0.0}
    assert fam.fit_warnings(params) == [POISSON_LIMIT]
    assert fam.n_params(params, conditional=True) == 1
    # the oracle: every α > 0 fits worse than the Poisson limit
    poisson_nll = -float(stats.poisson(mu).logpmf(y).sum())
    for alpha in (1e-6, 1e-3, 0.1, 1.0):
        assert scipy_nll(y, mu, alpha) > poisson_nll
    assert -fam.loglik(y, mu, params).sum() == pytest.approx(poisson_nll, rel=RTOL_LL)


def test_conditional_boundary_on_poisson_data(rng):
    mu = np.exp(rng.normal(math.log(2.5), 0.8, 2000))
    y = rng.poisson(mu).astype(np.float64)
    # this draw is (by chance) under-dispersed: the score at α = 0+ is negative
    assert float(np.sum((y - mu) ** 2 - y)) < 0.0
    assert fam.fit(y, None, mu) == {"alpha": 0.0}
    poisson_nll = -float(stats.poisson(mu).logpmf(y).sum())
    # (below α ≈ 1e-4 scipy's log Γ(y + r) − log Γ(r) is too noisy for a search to resolve)
    res = optimize.minimize_scalar(lambda t: scipy_nll(y, mu, math.exp(t)),
                                   bounds=(math.log(1e-4), math.log(10.0)), method="bounded",
                                   options={"xatol": 1e-9})
    assert res.x < math.log(1e-4) + 1e-4  # scipy's search runs into its lower bound
    assert res.fun > poisson_nll


def test_extreme_over_dispersion():
    y = np.zeros(1000)
    y[:3] = [50.0, 80.0, 200.0]
    mu = np.full(y.size, 1e-3)
    assert fam.fit(y, None, mu)["alpha"] == pytest.approx(
        scipy_alpha_mle(y, mu, lo=1e3, hi=1e7), rel=RTOL_FIT)
    with pytest.raises(FitError, match="exceeds"):
        fam.fit(y, None, np.full(y.size, 1e-12))


def test_rows_of_probability_zero_are_left_out_of_the_fit(rng):
    y, mu = nb_data(rng, 500, 0.5)
    base = fam.fit(y, None, mu)["alpha"]
    y2, mu2 = np.append(y, [4.0, 9.0, 0.0]), np.append(mu, [0.0, 0.0, 0.0])
    assert fam.fit(y2, None, mu2)["alpha"] == pytest.approx(base, rel=1e-12)
    assert np.isneginf(fam.loglik(y2, mu2, {"alpha": base})[-3:-1]).all()


def test_all_zero_targets(rng):
    y = np.zeros(50)
    with pytest.raises(FitError, match="α → ∞"):
        fam.fit(y, None, np.full(50, 0.7))
    assert fam.fit(y, None, np.zeros(50)) == {"alpha": 0.0}
    assert fam.fit(*value_counts(y, None)) == {"mean": 0.0, "alpha": 0.0}


# ------------------------------------------------------------------ marginal fit


def statsmodels_marginal(y: np.ndarray, method: str = "newton"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its own convergence chatter; asserted below
        res = SMNegativeBinomial(y, np.ones((y.size, 1)), loglike_method="nb2").fit(
            method=method, disp=0, maxiter=500)
    return res


@pytest.mark.parametrize("alpha, mean", [(0.6, 3.0), (2.5, 12.0)])
def test_marginal_fit_matches_statsmodels(rng, alpha, mean):
    r = 1.0 / alpha
    y = rng.negative_binomial(r, r / (r + mean), 600).astype(np.float64)
    res = statsmodels_marginal(y)
    assert res.mle_retvals["converged"]
    sm_mean, sm_alpha = math.exp(res.params[0]), float(res.params[1])
    for params in (fam.fit(*value_counts(y, None)), fam.fit(y, None)):
        assert params["mean"] == pytest.approx(sm_mean, rel=RTOL_FIT)
        assert params["alpha"] == pytest.approx(sm_alpha, rel=RTOL_FIT)
        assert fam.n_params(params, conditional=False) == 2
    # the same fit through the core's call site (value counts for integer targets)
    params = fam.fit(*value_counts(y, None))
    assert params["alpha"] == pytest.approx(sm_alpha, rel=RTOL_FIT)
    ll = fam.loglik(y, fam.marginal_pred(params), params).sum()
    assert ll == pytest.approx(res.llf, rel=1e-9)


def test_marginal_weighted_fit_matches_statsmodels_on_repeated_rows(rng):
    y = rng.negative_binomial(2.0, 2.0 / 6.0, 300).astype(np.float64)
    w = rng.integers(1, 4, y.size)
    res = statsmodels_marginal(np.repeat(y, w))
    assert res.mle_retvals["converged"]
    params = fam.fit(*value_counts(y, w.astype(np.float64)))
    assert params["mean"] == pytest.approx(math.exp(res.params[0]), rel=RTOL_FIT)
    assert params["alpha"] == pytest.approx(float(res.params[1]), rel=RTOL_FIT)


def test_marginal_boundary_where_statsmodels_cannot_reach_zero(rng):
    y = rng.binomial(10, 0.3, 400).astype(np.float64)  # Var = 0.7 mean: under-dispersed
    params = fam.fit(*value_counts(y, None))
    assert params == {"mean": pytest.approx(y.mean(), rel=1e-12), "alpha": 0.0}
    assert fam.fit_warnings(params) == [POISSON_LIMIT]
    assert fam.n_params(params, conditional=False) == 2
    ll = fam.loglik(y, params["mean"], params).sum()
    assert ll == pytest.approx(stats.poisson(y.mean()).logpmf(y).sum(), rel=RTOL_LL)
    # statsmodels stops at some tiny α > 0 (Nelder–Mead; Newton returns nan). Its own llf
    # there is above the boundary's only through the ~eps·r·log r error of log Γ(y + r) −
    # log Γ(r) at r ≈ 1e7; evaluated to 60 digits, its fit is no better than α = 0
    res = statsmodels_marginal(y, method="nm")
    sm_mean, sm_alpha = math.exp(res.params[0]), float(res.params[1])
    assert 0.0 < sm_alpha < 1e-4
    values, counts = value_counts(y, None)
    sm_ll = sum(c * hp_logpmf(int(k), sm_mean, sm_alpha) for k, c in zip(values, counts,
                                                                           strict=True))
    assert sm_ll < ll
