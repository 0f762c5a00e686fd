"""The gamma family against scipy.stats.gamma, independent optimisers and quadrature.

Oracles: scipy.stats.gamma(a=k, scale=μ/k) log-densities and CDFs; scipy.optimize on
scipy.stats log-likelihood sums (density and unit-interval); scipy.integrate.quad for the
far tails where scipy's gammainc underflows; closed forms written here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, special, stats

from losscli.errors import FitError
from losscli.noise.discretised import Discretised
from losscli.noise.gamma import Gamma, log_gammainc, log_gammaincc, solve_shape
from losscli.noise.sums import value_counts
from tests.oracles import interval_logprob_from_zero, wsum

RTOL_LL = 1e-9
RTOL_FIT = 1e-4
FAM = Gamma()


@pytest.fixture
def data(rng):
    n = 300
    mu = np.exp(rng.normal(1.0, 0.6, n))
    y = rng.gamma(2.5, mu / 2.5)
    w = rng.integers(1, 5, n).astype(float)
    return y, mu, w


@pytest.fixture
def counts(rng):
    n = 300
    mu = np.exp(rng.normal(1.2, 0.5, n))
    y = np.round(rng.gamma(1.8, mu / 1.8))
    w = rng.integers(1, 5, n).astype(float)
    assert (y == 0).any()  # the interval [0, ½] is exercised
    return y, mu, w


# ------------------------------------------------------------------ declared facts


def test_declared_facts():
    assert FAM.name == "gamma" and FAM.location == "mean" and FAM.prediction == "mean"
    assert FAM.nuisance == ("shape",) and FAM.marginal_params == ("mean", "shape")
    assert FAM.frameworks.xgboost == "reg:gamma" and FAM.frameworks.lightgbm == "gamma"
    assert FAM.frameworks.sklearn == "HistGradientBoostingRegressor(loss='gamma')"
    assert FAM.frameworks.pytorch is None and FAM.transform is None
    assert FAM.support.contains(np.array([0.0, 1e-300, 5.0])).tolist() == [False, True, True]
    assert not FAM.discrete
    assert "conditional" in FAM.closed_form and Discretised(FAM).closed_form == ()


def test_to_scipy_has_mean_pred_and_variance_mu2_over_k():
    d = FAM.to_scipy(np.array([2.0, 7.0]), {"shape": 3.0})
    np.testing.assert_allclose(d.mean(), [2.0, 7.0], rtol=1e-14)
    np.testing.assert_allclose(d.var(), np.array([4.0, 49.0]) / 3.0, rtol=1e-14)


# ------------------------------------------------------------------ log-likelihood


@settings(max_examples=60, deadline=None)
@given(k=st.floats(0.05, 5e3), mu=st.floats(1e-3, 1e4), q=st.floats(1e-6, 1 - 1e-6))
def test_loglik_matches_scipy_logpdf(k, mu, q):
    y = stats.gamma(a=k, scale=mu / k).ppf(np.array([q, 0.5, 1 - q]))
    y = y[y > 0]
    expected = stats.gamma(a=k, scale=mu / k).logpdf(y)
    # log q is a sum of terms of size ~k log k that cancel near the mode: no evaluation
    # (scipy's included) is better than a few ulps of those terms there
    terms = k * (abs(math.log(k)) + 1.0) + abs(special.gammaln(k)) + k * y / mu
    np.testing.assert_allclose(FAM.loglik(y, mu, {"shape": k}), expected, rtol=RTOL_LL,
                               atol=float(np.max(1e-14 * terms)))


def test_loglik_conditional_rows_match_scipy(data):
    y, mu, _ = data
    params = {"shape": 1.7}
    expected = stats.gamma(a=1.7, scale=mu / 1.7).logpdf(y)
    np.testing.assert_allclose(FAM.loglik(y, mu, params), expected, rtol=RTOL_LL)
    np.testing.assert_allclose(FAM.to_scipy(mu, params).logpdf(y), expected, rtol=1e-14)


# ------------------------------------------------------------------ the shape equation


@settings(max_examples=60, deadline=None)
@given(log_d=st.floats(-16.0, 4.0))
def test_solve_shape_solves_log_k_minus_digamma(log_d):
    D = math.exp(log_d)
    k = solve_shape(D)
    gap = math.log(k) - special.digamma(k)
    # log k − ψ(k) loses digits to cancellation when k is large: compare at the precision
    # the difference itself carries there
    assert gap == pytest.approx(D, rel=1e-9, abs=4e-16 * abs(math.log(k)))


def test_solve_shape_large_k_uses_accurate_series():
    # log k − ψ(k) = 1/(2k) + 1/(12k²) + O(k⁻⁴): at k = 1e6 the root is known to ~1e-16
    k = 1e6
    D = 1 / (2 * k) + 1 / (12 * k**2)
    assert solve_shape(D) == pytest.approx(k, rel=1e-9)


# ------------------------------------------------------------------ Lebesgue fits


@pytest.mark.parametrize("weighted", [False, True])
def test_conditional_shape_matches_scipy_optimum(data, weighted):
    y, mu, w = data
    w = w if weighted else None

    def nll(log_k):
        k = math.exp(log_k)
        return -wsum(stats.gamma(a=k, scale=mu / k).logpdf(y), w)

    res = optimize.minimize_scalar(nll, bounds=(-3, 5), method="bounded",
                                   options={"xatol": 1e-10})
    fit = FAM.fit(y, w, mu)
    assert set(fit) == {"shape"}
    assert fit["shape"] == pytest.approx(math.exp(res.x), rel=RTOL_FIT)


@pytest.mark.parametrize("weighted", [False, True])
def test_marginal_fit_matches_scipy_optimum(data, weighted):
    y, _, w = data
    w = w if weighted else None

    def nll(v):
        mean, k = np.exp(v)
        return -wsum(stats.gamma(a=k, scale=mean / k).logpdf(y), w)

    res = optimize.minimize(nll, [1.0, 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    fit = FAM.fit(y, w)
    assert fit["mean"] == pytest.approx(math.exp(res.x[0]), rel=RTOL_FIT)
    assert fit["shape"] == pytest.approx(math.exp(res.x[1]), rel=RTOL_FIT)
    # the mean's MLE is the weighted mean exactly
    assert fit["mean"] == pytest.approx(np.average(y, weights=w), rel=1e-13)
    assert FAM.marginal_pred(fit) == fit["mean"]


def test_unweighted_marginal_matches_scipy_gamma_fit(data):
    y = data[0]
    a, _, scale = stats.gamma.fit(y, floc=0)  # scipy's own ML fit
    fit = FAM.fit(y, None)
    assert fit["shape"] == pytest.approx(a, rel=RTOL_FIT)
    assert fit["mean"] == pytest.approx(a * scale, rel=RTOL_FIT)


@pytest.mark.parametrize("conditional", [False, True])
def test_weights_equal_repetition(data, conditional):
    y, mu, w = data
    reps = w.astype(int)
    pred = mu if conditional else None
    pred_rep = np.repeat(mu, reps) if conditional else None
    a = FAM.fit(y, w, pred)
    b = FAM.fit(np.repeat(y, reps), None, pred_rep)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == pytest.approx(b[name], rel=1e-11)


def test_perfect_predictions_have_no_finite_shape():
    y = np.array([1.0, 2.0, 3.5])
    with pytest.raises(FitError, match="shape"):
        FAM.fit(y, None, y.copy())
    with pytest.raises(FitError):
        FAM.fit(np.full(4, 2.5), None)


# ------------------------------------------------------------------ CDF and tails


@pytest.mark.parametrize("k", [0.2, 1.0, 3.7, 250.0])
def test_logcdf_logsf_match_scipy(k):
    mu = 4.0
    d = stats.gamma(a=k, scale=mu / k)
    x = d.ppf(np.array([1e-200, 1e-30, 1e-5, 0.3, 0.5, 0.9, 1 - 1e-9]))
    x = np.concatenate([x, d.isf(np.array([1e-30, 1e-200]))])
    x = x[np.isfinite(x) & (x > 0)]
    np.testing.assert_allclose(FAM.logcdf(x, mu, {"shape": k}), d.logcdf(x), rtol=RTOL_LL)
    np.testing.assert_allclose(FAM.logsf(x, mu, {"shape": k}), d.logsf(x), rtol=RTOL_LL)


def test_logcdf_logsf_at_zero():
    out_cdf = FAM.logcdf(np.array([0.0, -1.0]), 3.0, {"shape": 2.0})
    out_sf = FAM.logsf(np.array([0.0, -1.0]), 3.0, {"shape": 2.0})
    assert out_cdf.tolist() == [-math.inf, -math.inf]
    assert out_sf.tolist() == [0.0, 0.0]


def _log_lower_quad(a, x):
    """log P(a, x) = a log x − x − log Γ(a) + log ∫₀¹ u^(a−1) e^(x(1−u)) du (substitute t = xu)."""
    val, _ = integrate.quad(lambda u: math.exp((a - 1) * math.log(u) + x * (1 - u)), 0, 1,
                            epsabs=0, epsrel=1e-13, limit=200)
    return a * math.log(x) - x - special.gammaln(a) + math.log(val)


def _log_upper_quad(a, x):
    """log Q(a, x) = a log x − x − log Γ(a) + log ∫₀^∞ (1 + v)^(a−1) e^(−xv) dv (t = x(1+v))."""
    val, _ = integrate.quad(lambda v: math.exp((a - 1) * math.log1p(v) - x * v), 0, np.inf,
                            epsabs=0, epsrel=1e-13, limit=200)
    return a * math.log(x) - x - special.gammaln(a) + math.log(val)


@pytest.mark.parametrize(("a", "x"), [(50.0, 1e-3), (3.0, 1e-110), (1e4, 5e3),
                                      (0.4, 1e-300), (400.0, 1.0)])
def test_log_gammainc_far_lower_tail_matches_quadrature(a, x):
    got = log_gammainc(a, np.array([x]))[0]
    assert math.isfinite(got)
    assert got == pytest.approx(_log_lower_quad(a, x), rel=1e-10)


@pytest.mark.parametrize(("a", "x"), [(1.0, 800.0), (3.0, 1000.0), (50.0, 5700.0),
                                      (1e4, 2.2e4), (2.5, 3.0)])
def test_log_gammaincc_far_upper_tail_matches_quadrature(a, x):
    got = log_gammaincc(a, np.array([x]))[0]
    assert math.isfinite(got)
    assert got == pytest.approx(_log_upper_quad(a, x), rel=1e-10)


def test_underflowing_tails_are_finite_and_monotone():
    x = np.array([1e-6, 1e-3, 0.1, 1.0])
    lo = log_gammainc(400.0, x)
    assert np.all(np.isfinite(lo)) and np.all(np.diff(lo) > 0) and lo[-1] < -700
    x = np.array([1e4, 2e4, 5e4])
    up = log_gammaincc(2.0, x)
    assert np.all(np.isfinite(up)) and np.all(np.diff(up) < 0) and up[0] < -9000


# ------------------------------------------------------------------ counting base measure


@pytest.mark.parametrize(("k", "mu"), [(0.3, 4.0), (2.5, 7.0), (400.0, 30.0)])
def test_interval_probabilities_sum_to_one(k, mu):
    y = np.arange(0.0, 20_000.0)
    ll = FAM.interval_loglik(y, mu, {"shape": k})
    assert np.all(np.isfinite(ll))
    assert math.fsum(np.exp(ll)) == pytest.approx(1.0, abs=1e-12)


def test_interval_loglik_matches_scipy(counts):
    y, mu, _ = counts
    params = {"shape": 1.8}
    expected = interval_logprob_from_zero(FAM.to_scipy(mu, params), y)
    np.testing.assert_allclose(FAM.interval_loglik(y, mu, params), expected, rtol=RTOL_LL)
    # y = 0 is scored on [0, ½]
    zero = y == 0
    np.testing.assert_allclose(FAM.interval_loglik(y, mu, params)[zero],
                               FAM.to_scipy(mu[zero], params).logcdf(0.5), rtol=RTOL_LL)


@pytest.mark.parametrize("weighted", [False, True])
def test_counting_conditional_fit_matches_scipy_optimum(counts, weighted):
    y, mu, w = counts
    w = w if weighted else None

    def nll(log_k):
        k = math.exp(log_k)
        return -wsum(interval_logprob_from_zero(stats.gamma(a=k, scale=mu / k), y), w)

    res = optimize.minimize_scalar(nll, bounds=(-3, 5), method="bounded",
                                   options={"xatol": 1e-10})
    fit = Discretised(FAM).fit(y, w, mu)
    assert fit["shape"] == pytest.approx(math.exp(res.x), rel=RTOL_FIT)
    # the discretised fit is not the density's fit on the same integers
    assert fit["shape"] != pytest.approx(FAM.fit_start(y, w, mu)["shape"], rel=1e-3)


@pytest.mark.parametrize("weighted", [False, True])
def test_counting_marginal_fit_matches_scipy_optimum(counts, weighted):
    y, _, w = counts
    w = w if weighted else None
    values, vw = value_counts(y, w)

    def nll(v):
        mean, k = np.exp(v)
        return -wsum(interval_logprob_from_zero(stats.gamma(a=k, scale=mean / k), values), vw)

    res = optimize.minimize(nll, [1.0, 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 4000})
    fit = Discretised(FAM).fit(*value_counts(y, w))
    assert fit["mean"] == pytest.approx(math.exp(res.x[0]), rel=RTOL_FIT)
    assert fit["shape"] == pytest.approx(math.exp(res.x[1]), rel=RTOL_FIT)


def test_counting_accepts_zero_targets_and_perfect_predictions():
    y = np.array([0.0, 0.0, 1.0, 3.0, 2.0])
    assert FAM.support.first_outside(y) == 0  # the density needs y > 0
    assert Discretised(FAM).support.first_outside(y) is None  # the interval [0, ½] does not
    # every y equals its prediction: the density fit fails, the discretised one starts
    # from a finite shape and scores every row
    pred = np.maximum(y, 1.0)
    pred[:2] = 0.3
    start = FAM.fit_start(np.array([1.0, 2.0, 4.0]), None, np.array([1.0, 2.0, 4.0]))
    assert math.isfinite(start["shape"]) and start["shape"] > 0
    pred[4] = 3.2  # one row outside: an interior maximum, every row scored
    fit = Discretised(FAM).fit(y, None, pred)
    ll = Discretised(FAM).loglik(y, pred, fit)
    assert np.all(np.isfinite(ll)) and np.all(ll <= 0)
